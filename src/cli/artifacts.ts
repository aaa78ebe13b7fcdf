/**
 * `gantry artifacts RUN [NAME] [--out DIR]`: list the artifacts a run saved,
 * or extract them (all, or the one named) into DIR: `DIR/<name>/`, or
 * `DIR/<name>/<job>/` when several jobs (a matrix) saved the same name.
 * Extraction is jailed to DIR: tar entries that would escape are refused.
 * Blobs are hash-checked as they stream: each artifact is extracted into a
 * staging directory inside DIR and moved into place only once its blob
 * matched, so a modified blob leaves nothing of it in DIR.
 */
import { randomUUID } from "node:crypto";
import { lstat, mkdir, readdir, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { GantryError } from "../core/errors.js";
import { extractTar } from "../executors/shared/tar-local.js";
import { formatBytes, slugify } from "../reporters/format.js";
import type { CliIo } from "./io.js";
import { renderTable, resolveRun, withStore, type HistoryDeps, type HistoryOptions } from "./runs.js";

export interface ArtifactsOptions extends HistoryOptions {
  readonly run: string;
  readonly name?: string;
  /** Extract into this directory (relative to the current directory). */
  readonly out?: string;
  readonly json?: boolean;
}

export async function artifactsCommand(options: ArtifactsOptions, io: CliIo, deps: HistoryDeps = {}): Promise<number> {
  return withStore(options, deps, async (store) => {
    const run = await resolveRun(store, options.run);
    const all = await store.artifacts.list(run.id);
    const chosen = options.name === undefined ? all : all.filter((a) => a.name === options.name);
    if (options.name !== undefined && chosen.length === 0) {
      const names = [...new Set(all.map((a) => a.name))];
      throw new GantryError(
        "USAGE",
        `run ${run.id} has no artifact named "${options.name}" (${names.length > 0 ? `it has: ${names.join(", ")}` : "it saved none"})`,
      );
    }
    const blobs = store.artifacts.blobs;
    const present = await Promise.all(
      chosen.map(async (a) => ({ artifact: a, path: (await blobs.has(a.hash)) ? blobs.pathOf(a.hash) : undefined })),
    );
    if (options.out === undefined) {
      if (options.json) {
        io.out(
          JSON.stringify(
            present.map((p) => ({ ...p.artifact, stored: p.path !== undefined })),
            null,
            2,
          ),
        );
      } else if (present.length === 0) {
        io.out(`run ${run.id} saved no artifacts`);
      } else {
        const rows = present.map(({ artifact: a, path }) => [
          a.name,
          a.jobId,
          formatBytes(a.size),
          a.hash.slice(0, 12),
          path ? "" : "(blob missing)",
        ]);
        io.out(renderTable(["NAME", "JOB", "SIZE", "HASH", ""], rows).join("\n"));
      }
      return 0;
    }
    const outDir = resolve(options.out);
    await mkdir(outDir, { recursive: true });
    const count = new Map<string, number>();
    for (const a of chosen) count.set(a.name, (count.get(a.name) ?? 0) + 1);
    let missing = 0;
    for (const { artifact: a, path } of present) {
      if (!path) {
        io.err(
          io.errColor.yellow(`artifact "${a.name}" of ${a.jobId}: its blob ${a.hash.slice(0, 12)} is not in the store (deleted by gc?)`),
        );
        missing += 1;
        continue;
      }
      const rel = (count.get(a.name) ?? 0) > 1 ? `${slugify(a.name)}/${slugify(a.jobId)}` : slugify(a.name);
      await extractVerified(await blobs.open(a.hash, `artifact "${a.name}" of ${a.jobId}`), outDir, rel);
      io.out(`${a.name} (${a.jobId}) -> ${resolve(outDir, rel)}`);
    }
    return missing > 0 ? 1 : 0;
  });
}

/** Extract `tar` into a staging directory below `outDir`, then move its content to `outDir/rel` (merging into what is there). */
async function extractVerified(tar: Readable, outDir: string, rel: string): Promise<void> {
  const staging = join(outDir, `.gantry-extract-${randomUUID()}`);
  await mkdir(staging, { mode: 0o700 });
  try {
    await extractTar(tar, staging, rel, { rootName: "the output directory" });
    await moveInto(join(staging, rel), join(outDir, rel));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Move `from` to `to`: a directory onto a directory merges entry by entry; anything else replaces what is there. */
async function moveInto(from: string, to: string): Promise<void> {
  const [source, target] = await Promise.all([lstat(from), lstat(to).catch(() => undefined)]);
  if (source.isDirectory() && target?.isDirectory()) {
    for (const name of await readdir(from)) await moveInto(join(from, name), join(to, name));
    return;
  }
  if (target) await rm(to, { recursive: true, force: true });
  else await mkdir(join(to, ".."), { recursive: true });
  await rename(from, to);
}
