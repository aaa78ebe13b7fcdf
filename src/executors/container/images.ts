/**
 * Images: the pull policy for named images, and images built from a
 * context through the Engine API build endpoint, tagged by the content hash
 * of the context, the Dockerfile and the build args (an unchanged image is
 * never rebuilt). Pulls and builds stop when the signal fires.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readFile, readdir, readlink } from "node:fs/promises";
import { isAbsolute, join, posix, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GantryError, coerceError } from "../../core/errors.js";
import type { ImageSpec, PullPolicy } from "./convert.js";
import { buildTag } from "./convert.js";
import type { Engine } from "./engine.js";
import { apiMessage, describeEngine, statusOf } from "./engine.js";
import { tarOf } from "./files.js";

function fail(image: string, engine: Engine, reason: string, retryable = false): GantryError {
  return new GantryError("EXECUTOR_FAILED", `image ${image} on ${describeEngine(engine)}: ${reason}`, { retryable });
}

async function hasImage(engine: Engine, ref: string): Promise<boolean> {
  try {
    await engine.docker.getImage(ref).inspect();
    return true;
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw fail(ref, engine, apiMessage(error), true);
  }
}

/** Follow a progress stream (pull, build) to its end; an `error` line fails it. */
function follow(
  engine: Engine,
  stream: NodeJS.ReadableStream,
  signal: AbortSignal,
  onLine?: (line: Record<string, unknown>) => void,
): Promise<void> {
  return new Promise<void>((resolvePromise, reject) => {
    const onAbort = (): void => {
      (stream as Readable).destroy?.();
      reject(new GantryError("CANCELLED", "cancelled while preparing the image"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    engine.docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        signal.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolvePromise();
      },
      (event: Record<string, unknown>) => {
        onLine?.(event);
        const detail = event.errorDetail as { message?: string } | undefined;
        if (event.error !== undefined || detail?.message !== undefined) {
          (stream as Readable).destroy?.();
          signal.removeEventListener("abort", onAbort);
          reject(new Error(String(detail?.message ?? event.error)));
        }
      },
    );
  });
}

async function pull(engine: Engine, ref: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new GantryError("CANCELLED", `cancelled before pulling ${ref}`);
  try {
    const stream = await engine.docker.pull(ref, { abortSignal: signal });
    await follow(engine, stream, signal);
  } catch (error) {
    if (error instanceof GantryError) throw error;
    if (signal.aborted) throw new GantryError("CANCELLED", `cancelled while pulling ${ref}`);
    throw fail(
      ref,
      engine,
      `pull failed: ${apiMessage(error)}; check the name and tag, and that the registry is reachable (or build/import it locally and use pull: "never")`,
      true,
    );
  }
  if (!(await hasImage(engine, ref))) throw fail(ref, engine, "the pull finished but the image is still missing");
}

/** Make a named image available according to the pull policy. */
export async function ensureNamedImage(engine: Engine, ref: string, policy: PullPolicy, signal: AbortSignal): Promise<string> {
  if (policy === "always") {
    await pull(engine, ref, signal);
    return ref;
  }
  if (await hasImage(engine, ref)) return ref;
  if (policy === "never")
    throw fail(ref, engine, 'not present and the pull policy is "never"; build or pull it first, or use pull: "missing"');
  await pull(engine, ref, signal);
  return ref;
}

// ---------------------------------------------------------------- builds

interface ContextFile {
  readonly rel: string;
  readonly kind: "file" | "dir" | "symlink";
  readonly mode: number;
  readonly link?: string;
}

async function listContext(root: string): Promise<ContextFile[]> {
  const out: ContextFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(rel === "." ? root : join(root, rel))).sort();
    for (const name of names) {
      const childRel = rel === "." ? name : `${rel}/${name}`;
      if (name === ".git") continue;
      const stat = await lstat(join(root, childRel));
      if (stat.isDirectory()) {
        out.push({ rel: childRel, kind: "dir", mode: stat.mode & 0o7777 });
        await walk(childRel);
      } else if (stat.isFile()) out.push({ rel: childRel, kind: "file", mode: stat.mode & 0o7777 });
      else if (stat.isSymbolicLink()) out.push({ rel: childRel, kind: "symlink", mode: 0o777, link: await readlink(join(root, childRel)) });
    }
  };
  await walk(".");
  return out;
}

/** Content hash of a build: every file's path, mode and bytes, the Dockerfile's name and the args. */
export async function buildContextHash(
  root: string,
  files: readonly ContextFile[],
  dockerfile: string,
  args: Readonly<Record<string, string>>,
): Promise<string> {
  const h = createHash("sha256");
  h.update(JSON.stringify({ dockerfile, args: Object.entries(args).sort(([a], [b]) => (a < b ? -1 : 1)) }));
  for (const f of files) {
    h.update(`\0${f.kind}\0${f.rel}\0${f.mode.toString(8)}\0`);
    if (f.kind === "file") h.update(await readFile(join(root, f.rel)));
    if (f.kind === "symlink") h.update(f.link ?? "");
  }
  return h.digest("hex");
}

/** Build (or find, by content hash) the image of a `{ build }` spec; returns its tag. */
export async function ensureBuiltImage(
  engine: Engine,
  spec: Exclude<ImageSpec, string>["build"],
  repoDir: string,
  executorName: string,
  signal: AbortSignal,
): Promise<string> {
  const root = isAbsolute(spec.context) ? spec.context : resolve(repoDir, spec.context);
  const dockerfile = posix.normalize(spec.dockerfile ?? "Dockerfile");
  const what = `build of ${spec.context}`;
  let files: ContextFile[];
  try {
    files = await listContext(root);
  } catch (error) {
    throw new GantryError("EXECUTOR_FAILED", `image ${what}: cannot read the build context ${root}: ${coerceError(error).message}`);
  }
  if (!files.some((f) => f.rel === dockerfile && f.kind === "file")) {
    throw new GantryError("EXECUTOR_FAILED", `image ${what}: no ${dockerfile} in the build context ${root}`);
  }
  const args = spec.args ?? {};
  const tag = buildTag(executorName, await buildContextHash(root, files, dockerfile, args));
  if (await hasImage(engine, tag)) return tag;
  const context = tarOf(async (pack) => {
    for (const f of files) {
      if (f.kind === "dir") pack.entry({ name: `${f.rel}/`, type: "directory", mode: f.mode });
      else if (f.kind === "symlink") pack.entry({ name: f.rel, type: "symlink", linkname: f.link ?? "", mode: 0o777 });
      else {
        const size = (await lstat(join(root, f.rel))).size;
        await pipeline(
          createReadStream(join(root, f.rel)),
          pack.entry({ name: f.rel, type: "file", mode: f.mode, size }) as unknown as Writable,
        );
      }
    }
  });
  const log: string[] = [];
  try {
    const buildOptions: Record<string, unknown> = {
      t: tag,
      dockerfile,
      buildargs: args,
      labels: { "gantry.build": tag },
      rm: true,
      forcerm: true,
      abortSignal: signal,
    };
    const stream = await engine.docker.buildImage(context, buildOptions);
    await follow(engine, stream, signal, (line) => {
      if (typeof line.stream === "string") log.push(line.stream);
    });
  } catch (error) {
    if (error instanceof GantryError) throw error;
    if (signal.aborted) throw new GantryError("CANCELLED", `cancelled while building ${what}`);
    const tail = log.join("").trim().split("\n").slice(-5).join("\n");
    throw fail(what, engine, `build failed: ${apiMessage(error)}${tail ? `\n${tail}` : ""}`);
  }
  if (!(await hasImage(engine, tag))) throw fail(what, engine, `the build finished but ${tag} is missing`);
  return tag;
}

/** The image reference to create containers from, pulling or building as needed. */
export async function ensureImage(
  engine: Engine,
  image: ImageSpec,
  policy: PullPolicy,
  repoDir: string,
  executorName: string,
  signal: AbortSignal,
): Promise<string> {
  if (typeof image === "string") return ensureNamedImage(engine, image, policy, signal);
  return ensureBuiltImage(engine, image.build, repoDir, executorName, signal);
}
