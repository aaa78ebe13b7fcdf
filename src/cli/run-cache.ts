/**
 * The `RunCache` of a run on this machine (see src/core/cache.ts): job
 * results and keyed cache entries from the `Store`, their blobs from its
 * content-addressed area, and repository hashes over the files a job's copy
 * of the repository holds (git-tracked plus untracked, not ignored: the same
 * list `copyRepo` uses). Each hash is computed once per run.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readlink } from "node:fs/promises";
import { join } from "node:path";
import picomatch from "picomatch";
import type { CachedJob, CacheEntry, RunCache, StoredBlob } from "../core/cache.js";
import { GantryError } from "../core/errors.js";
import { listRepo, mapLimit } from "../executors/shared/repo-copy.js";
import type { Store } from "../store/store.js";

async function fileHash(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** SHA-256 over `path \0 kind:content-hash \n` of each file, sorted by path: a rename, an edit or a new file changes it. */
async function hashEntries(repoDir: string, files: readonly string[], symlinks: readonly string[]): Promise<string> {
  const lines = new Map<string, string>();
  await mapLimit(files, 16, async (rel) => void lines.set(rel, `f:${await fileHash(join(repoDir, rel))}`));
  await mapLimit(symlinks, 16, async (rel) => void lines.set(rel, `l:${await readlink(join(repoDir, rel))}`));
  const total = createHash("sha256");
  for (const rel of [...lines.keys()].sort()) total.update(`${rel}\0${lines.get(rel) as string}\n`);
  return total.digest("hex");
}

export function createRunCache(store: Store, repoDir: string): RunCache {
  let manifest: ReturnType<typeof listRepo> | undefined;
  let repo: Promise<string> | undefined;
  const byPatterns = new Map<string, Promise<string>>();
  const listing = (): ReturnType<typeof listRepo> => (manifest ??= listRepo(repoDir));

  async function blob(hash: string, size: number): Promise<StoredBlob | undefined> {
    const path = await store.artifacts.blobPath(hash);
    return path ? { hash, size, path } : undefined;
  }

  return {
    repoHash() {
      repo ??= listing().then((m) => hashEntries(repoDir, m.files, m.symlinks));
      return repo;
    },

    hashFiles(patterns) {
      const id = JSON.stringify(patterns);
      let found = byPatterns.get(id);
      if (!found) {
        found = listing().then((m) => {
          let match: (path: string) => boolean;
          try {
            match = picomatch([...patterns], { dot: true });
          } catch (error) {
            throw new GantryError("USAGE", `hashFiles(${patterns.map((p) => JSON.stringify(p)).join(", ")}): ${String(error)}`);
          }
          const files = m.files.filter((f) => match(f));
          const links = m.symlinks.filter((f) => match(f));
          return files.length + links.length === 0 ? "" : hashEntries(repoDir, files, links);
        });
        byPatterns.set(id, found);
      }
      return found;
    },

    async findJob(key): Promise<CachedJob | undefined> {
      const job = await store.jobs.findCached(key);
      if (!job) return undefined;
      const artifacts: Record<string, StoredBlob> = {};
      for (const a of await store.artifacts.list(job.runId, job.jobId)) {
        const stored = await blob(a.hash, a.size);
        if (!stored) return undefined; // swept by gc: run the job again
        artifacts[a.name] = stored;
      }
      return { runId: job.runId, status: job.status, outputs: job.outputs, artifacts };
    },

    async findEntry(key, restoreKeys): Promise<CacheEntry | undefined> {
      const entry = await store.caches.find(key, restoreKeys);
      if (!entry) return undefined;
      const paths: Record<string, StoredBlob> = {};
      for (const [path, b] of Object.entries(entry.paths)) {
        const stored = await blob(b.hash, b.size);
        if (!stored) return undefined;
        paths[path] = stored;
      }
      return { key: entry.key, paths };
    },
  };
}
