/**
 * Loading workflow files: bundle, store by hash, import, check the default
 * export. Every failure a user can cause is a `GantryError("LOAD_FAILED")`
 * whose message names the file (and the line, when there is one).
 */
import { existsSync, type Dirent } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { SourceMap } from "node:module";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Workflow } from "../core/definition.js";
import { coerceError, GantryError } from "../core/errors.js";
import { isLoadLimitError, loadTimeoutMs, startLoadProbe, withinLoadLimit, type LoadProbe } from "./time-limit.js";
import { bundlePathFor, bundleWorkflow, defaultStateDir, inlineSourceMap, materializeBundle, toPosix } from "./bundle.js";

export interface LoadOptions {
  /** The repository root: source paths, plans and messages are relative to it. */
  readonly repoDir: string;
  /** Where bundles are stored (default `<repoDir>/.gantry/state`). */
  readonly stateDir?: string;
  /** Limit on running the workflow's top-level code (default `GANTRY_LOAD_TIMEOUT`, else 30 s). */
  readonly timeoutMs?: number;
}

export interface LoadedWorkflow {
  readonly workflow: Workflow;
  /** Hex SHA-256 of the portable bundle text (`source`). */
  readonly bundleHash: string;
  /** The materialised bundle that was imported: `<stateDir>/bundles/<hash>.mjs`. */
  readonly bundlePath: string;
  /** The workflow file, relative to `repoDir`, `/`-separated. */
  readonly file: string;
  /** The portable bundle text (what agents receive; `sha256(source) === bundleHash`). */
  readonly source: string;
}

/** The workflow files of a repository: `.gantry/*.ts` (not `.d.ts`), relative to `repoDir`, sorted. */
export async function discoverWorkflows(repoDir: string): Promise<string[]> {
  const dir = join(resolve(repoDir), ".gantry");
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => `.gantry/${e.name}`)
    .sort();
}

/** Bundle, store and import one workflow file (absolute, or relative to `repoDir`). */
export async function loadWorkflowFile(file: string, options: LoadOptions): Promise<LoadedWorkflow> {
  const repoDir = resolve(options.repoDir);
  const absFile = resolve(repoDir, file);
  const rel = toPosix(relative(repoDir, absFile));
  if (!existsSync(absFile)) throw new GantryError("LOAD_FAILED", `${rel}: no such file`);
  const limitMs = options.timeoutMs ?? loadTimeoutMs();
  // The probe thread boots while esbuild works.
  const probe = startLoadProbe();
  let path: string;
  let source: string;
  let hash: string;
  try {
    ({ source, hash } = await bundleWorkflow(absFile, repoDir));
    ({ path } = await materializeBundle(source, { repoDir, ...(options.stateDir ? { stateDir: options.stateDir } : {}) }));
  } catch (error) {
    await probe.dispose();
    throw error;
  }
  const workflow = await importWorkflow(path, { repoDir, file: rel }, probe, limitMs);
  return { workflow, bundleHash: hash, bundlePath: path, file: rel, source };
}

/**
 * Import a bundle already stored (materialised) in `stateDir` and return its
 * workflow. `file` only improves messages.
 */
export async function loadBundle(
  hash: string,
  stateDir: string,
  options: { repoDir?: string; file?: string; timeoutMs?: number } = {},
): Promise<Workflow> {
  const path = bundlePathFor(hash, stateDir);
  if (!existsSync(path)) throw new GantryError("LOAD_FAILED", `bundle ${hash} is not in ${toPosix(join(stateDir, "bundles"))}`);
  const repoDir = resolve(options.repoDir ?? resolve(stateDir, "..", ".."));
  const limitMs = options.timeoutMs ?? loadTimeoutMs();
  return importWorkflow(path, { repoDir, file: options.file ?? `bundle ${hash}` }, startLoadProbe(), limitMs);
}

/**
 * Import a materialised bundle within the load time limit (see
 * `time-limit.ts`) and check that its default export is a workflow.
 */
async function importWorkflow(
  bundlePath: string,
  where: { repoDir: string; file: string },
  probe: LoadProbe,
  limitMs: number,
): Promise<Workflow> {
  // Stack traces of code in the bundle then point at the TypeScript source.
  process.setSourceMapsEnabled(true);
  const url = pathToFileURL(bundlePath).href;
  await probe.run(url, where.file, limitMs);
  let mod: { default?: unknown };
  try {
    mod = (await withinLoadLimit(import(url), where.file, limitMs)) as { default?: unknown };
  } catch (thrown) {
    if (isLoadLimitError(thrown)) throw thrown;
    const error = coerceError(thrown);
    const at = await locateError(error, bundlePath, where);
    throw new GantryError("LOAD_FAILED", `${at}: error while loading the workflow: ${firstLine(error)}`, { cause: error });
  }
  const value = mod.default;
  if (!isWorkflow(value)) {
    throw new GantryError(
      "LOAD_FAILED",
      `${where.file}: the default export is not a workflow (found ${describe(value)}); write \`export default workflow({ name, jobs })\` with \`workflow\` imported from "gantry"`,
    );
  }
  return value;
}

function isWorkflow(value: unknown): value is Workflow {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "workflow";
}

function describe(value: unknown): string {
  if (value === undefined) return "no default export";
  if (value === null) return "null";
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const kind = (value as { kind?: unknown }).kind;
    return typeof kind === "string" ? `a ${kind}` : "a plain object";
  }
  return `a ${typeof value}`;
}

function firstLine(error: Error): string {
  const name = error.name && error.name !== "Error" ? `${error.name}: ` : "";
  return `${name}${error.message}`.split("\n")[0] ?? "";
}

const FRAME = /((?:file:\/\/)?\/[^\s()]*?):(\d+):(\d+)\)?\s*$/;

/**
 * `file:line:col` of the first stack frame in the workflow's own code. Frames
 * may point at the bundle (source maps off: mapped here through the inline
 * map) or at the TypeScript sources already (source maps on).
 */
async function locateError(error: Error, bundlePath: string, where: { repoDir: string; file: string }): Promise<string> {
  const text = await readFile(bundlePath, "utf8").catch(() => "");
  const payload = inlineSourceMap(text);
  const map = payload ? safeSourceMap(payload) : undefined;
  const sourceRoot = payload?.sourceRoot ?? `${pathToFileURL(where.repoDir).href}/`;
  const toAbs = (source: string): string =>
    source.startsWith("file:") ? fileURLToPath(source) : source.startsWith("/") ? source : fileURLToPath(new URL(source, sourceRoot));
  const sources = new Set((payload?.sources ?? []).map(toAbs));
  const target = resolve(where.repoDir, where.file);

  const frames: Array<{ path: string; line: number; column: number }> = [];
  for (const line of (error.stack ?? "").split("\n").slice(1)) {
    const m = FRAME.exec(line.trim());
    if (!m?.[1]) continue;
    const path = m[1].startsWith("file:") ? safePath(m[1]) : m[1];
    if (!path) continue;
    const lineNo = Number(m[2]);
    const column = Number(m[3]);
    if (path === bundlePath && map) {
      const entry = map.findEntry(lineNo - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
      if (entry.originalSource !== undefined && entry.originalLine !== undefined && entry.originalColumn !== undefined) {
        frames.push({ path: toAbs(entry.originalSource), line: entry.originalLine + 1, column: entry.originalColumn + 1 });
      }
    } else if (sources.has(path)) {
      frames.push({ path, line: lineNo, column });
    }
  }
  const best = frames.find((f) => f.path === target) ?? frames.find((f) => !f.path.includes("/node_modules/")) ?? frames[0];
  if (!best) return where.file;
  return `${toPosix(relative(where.repoDir, best.path))}:${best.line}:${best.column}`;
}

function safeSourceMap(payload: object): SourceMap | undefined {
  try {
    return new SourceMap(payload as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    return undefined;
  }
}

function safePath(url: string): string | undefined {
  try {
    return fileURLToPath(url);
  } catch {
    return undefined;
  }
}

export { defaultStateDir };
