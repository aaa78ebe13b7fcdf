/**
 * Bundling workflow files and storing bundles by hash.
 *
 * A bundle is one ESM file made by esbuild from a workflow file and what it
 * imports (npm packages included, Node built-ins left external). Imports of
 * `gantry` and `gantry/testing` are not bundled: they are left as
 * placeholders, so the **portable** text (the one that is hashed, stored and
 * sent to agents) is the same on every machine. Before a bundle is imported
 * it is **materialised**: the placeholders become the file URL of the running
 * Gantry's own entry points (so `instanceof` and symbols match), and the
 * inline source map gets the repository as its `sourceRoot` (so stack traces
 * name the real TypeScript file).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { GantryError } from "../core/errors.js";
import { sha256 } from "../core/hash.js";

/** The specifier prefix that stands for the running Gantry in a portable bundle. */
export const RUNTIME_PLACEHOLDER = "__GANTRY_RUNTIME__";
const ENTRIES = { index: "gantry", testing: "gantry/testing" } as const;
type Entry = keyof typeof ENTRIES;

const SOURCE_MAP_PREFIX = "//# sourceMappingURL=data:application/json;base64,";
/** Lets bundled CommonJS packages `require` Node built-ins from an ES module. */
const BANNER =
  'import { createRequire as __gantryCreateRequire } from "node:module";\nconst require = __gantryCreateRequire(import.meta.url);';

export interface BundleResult {
  /** The portable bundle text: machine-independent, what `hash` is computed over. */
  readonly source: string;
  /** Hex SHA-256 of `source`. */
  readonly hash: string;
}

/** Where a relative path points, as a `/`-separated path (for messages and plans). */
export function toPosix(path: string): string {
  return sep === "/" ? path : path.split(sep).join("/");
}

/**
 * Bundle a workflow file with esbuild. `file` is absolute or relative to
 * `repoDir`; source paths in the bundle are relative to `repoDir`.
 * Syntax and resolution errors become one `LOAD_FAILED` error whose lines are
 * `file:line:col: message`.
 */
export async function bundleWorkflow(file: string, repoDir: string): Promise<BundleResult> {
  const absRepo = resolve(repoDir);
  const absFile = resolve(absRepo, file);
  let result: esbuild.BuildResult<{ write: false }>;
  try {
    result = await esbuild.build({
      entryPoints: [absFile],
      absWorkingDir: absRepo,
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      target: "node20",
      sourcemap: "inline",
      packages: "bundle",
      logLevel: "silent",
      charset: "utf8",
      legalComments: "none",
      banner: { js: BANNER },
      plugins: [runtimePlugin()],
    });
  } catch (error) {
    throw buildFailure(error, absRepo, absFile);
  }
  const output = result.outputFiles[0];
  if (!output) throw new GantryError("LOAD_FAILED", `${toPosix(relative(absRepo, absFile))}: esbuild produced no output`);
  const source = output.text;
  return { source, hash: sha256(source) };
}

function runtimePlugin(): esbuild.Plugin {
  return {
    name: "gantry-runtime",
    setup(build) {
      build.onResolve({ filter: /^gantry(\/testing)?$/ }, (args) => ({
        path: `${RUNTIME_PLACEHOLDER}/${args.path === "gantry" ? "index" : "testing"}`,
        external: true,
      }));
    },
  };
}

function buildFailure(error: unknown, absRepo: string, absFile: string): GantryError {
  const messages = (error as { errors?: esbuild.Message[] }).errors;
  const fallback = toPosix(relative(absRepo, absFile));
  if (!Array.isArray(messages) || messages.length === 0) {
    return new GantryError("LOAD_FAILED", `${fallback}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const lines = messages.map((m) => {
    if (!m.location) return `${fallback}: ${m.text}`;
    const where = toPosix(relative(absRepo, resolve(absRepo, m.location.file)));
    return `${where}:${m.location.line}:${m.location.column + 1}: ${m.text}`;
  });
  return new GantryError("LOAD_FAILED", lines.join("\n"), { cause: error });
}

/**
 * File URLs of the running Gantry's public entry points. When built, the
 * loader is `dist/loader/bundle.js` and the entries are `dist/index.js` and
 * `dist/testing.js`; when the TypeScript source runs (tests), they are
 * `src/index.ts` and `src/testing.ts`.
 */
export function runtimeEntryUrls(): Record<Entry, string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const pick = (name: string): string => {
    const js = resolve(here, "..", `${name}.js`);
    const ts = resolve(here, "..", `${name}.ts`);
    return pathToFileURL(existsSync(js) || !existsSync(ts) ? js : ts).href;
  };
  return { index: pick("index"), testing: pick("testing") };
}

/**
 * Turn a portable bundle into the text that is imported on this machine:
 * placeholders point at this Gantry, and the source map's `sourceRoot` at
 * `repoDir`.
 */
export function materializeSource(source: string, repoDir: string, entries: Record<Entry, string> = runtimeEntryUrls()): string {
  let text = source;
  for (const entry of Object.keys(ENTRIES) as Entry[]) {
    text = text.split(JSON.stringify(`${RUNTIME_PLACEHOLDER}/${entry}`)).join(JSON.stringify(entries[entry]));
  }
  const at = text.lastIndexOf(SOURCE_MAP_PREFIX);
  if (at < 0) return text;
  const end = text.indexOf("\n", at);
  const encoded = text.slice(at + SOURCE_MAP_PREFIX.length, end < 0 ? undefined : end);
  const map = JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as Record<string, unknown>;
  map.sourceRoot = `${pathToFileURL(resolve(repoDir)).href}/`;
  const rewritten = Buffer.from(JSON.stringify(map), "utf8").toString("base64");
  return text.slice(0, at) + SOURCE_MAP_PREFIX + rewritten + (end < 0 ? "" : text.slice(end));
}

/** The inline source map of a bundle (portable or materialised), or undefined. */
export function inlineSourceMap(text: string): { sources: string[]; sourceRoot?: string; mappings: string } | undefined {
  const at = text.lastIndexOf(SOURCE_MAP_PREFIX);
  if (at < 0) return undefined;
  const end = text.indexOf("\n", at);
  const encoded = text.slice(at + SOURCE_MAP_PREFIX.length, end < 0 ? undefined : end);
  try {
    return JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as { sources: string[]; sourceRoot?: string; mappings: string };
  } catch {
    return undefined;
  }
}

/** Default state directory of a repository. */
export function defaultStateDir(repoDir: string): string {
  return join(resolve(repoDir), ".gantry", "state");
}

/** Path of the materialised bundle `hash` in a state directory. */
export function bundlePathFor(hash: string, stateDir: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new GantryError("LOAD_FAILED", `not a bundle hash: ${JSON.stringify(hash)}`);
  return join(resolve(stateDir), "bundles", `${hash}.mjs`);
}

/** Write a file atomically (temporary file in the same directory, then rename). */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, text, "utf8");
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Store a portable bundle in `stateDir`, materialised for this machine, and
 * return its hash and path. The file is rewritten only when its content
 * differs (for example after Gantry moved), so concurrent loads are safe.
 */
export async function materializeBundle(
  source: string,
  options: { repoDir: string; stateDir?: string },
): Promise<{ hash: string; path: string }> {
  const hash = sha256(source);
  const path = bundlePathFor(hash, options.stateDir ?? defaultStateDir(options.repoDir));
  const text = materializeSource(source, options.repoDir);
  const existing = await readFile(path, "utf8").catch(() => undefined);
  if (existing !== text) await writeFileAtomic(path, text);
  return { hash, path };
}
