/**
 * The `RunCache` of a run on this machine (see src/core/cache.ts): job
 * results and keyed cache entries from the `Store`, their blobs from its
 * content-addressed area, and repository hashes over the files a job's copy
 * of the repository holds (git-tracked plus untracked, not ignored: the same
 * list `copyRepo` uses). Each hash is computed once per run.
 *
 * Keyed cache entries saved earlier in the same run are found too: the store
 * writer commits `cache.saved` in its next batch, after the later jobs have
 * looked, so the run cache also remembers them from the run's events
 * (`onEvent`); their blobs are in the store's blob area already (the engine
 * saves there).
 */
import { createHash, createHmac } from "node:crypto";
import { createReadStream } from "node:fs";
import { readlink } from "node:fs/promises";
import { join } from "node:path";
import picomatch from "picomatch";
import type { CachedJob, CacheEntry, RunCache, StoredBlob } from "../core/cache.js";
import { GantryError } from "../core/errors.js";
import { listRepo, mapLimit } from "../executors/shared/repo-copy.js";
import type { GantryEvent } from "../core/events.js";
import type { Store } from "../store/store.js";

/** Which of `prefixes` (by index) `key` starts with first; Infinity when none. */
function prefixRank(key: string, prefixes: readonly string[]): number {
  const i = prefixes.findIndex((p) => key.startsWith(p));
  return i === -1 ? Infinity : i;
}

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

export function createRunCache(store: Store, repoDir: string): RunCache & { readonly onEvent: (event: GantryEvent) => void } {
  /** Entries saved in this run, in order; the first save of a key wins. */
  const saved = new Map<string, CacheEntry>();
  let manifest: ReturnType<typeof listRepo> | undefined;
  let repo: Promise<string> | undefined;
  const byPatterns = new Map<string, Promise<string>>();
  const listing = (): ReturnType<typeof listRepo> => (manifest ??= listRepo(repoDir));

  async function blob(hash: string, size: number): Promise<StoredBlob | undefined> {
    return (await store.artifacts.blobs.has(hash)) ? { hash, size } : undefined;
  }

  return {
    onEvent(event) {
      if (event.type !== "cache.saved" || saved.has(event.key)) return;
      saved.set(event.key, { key: event.key, paths: { ...event.paths } });
    },

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

    async secretDigest(value) {
      const key = await store.secretKey("cache-hmac");
      return `hmac:${createHmac("sha256", key).update(value).digest("hex")}`;
    },

    async findEntry(key, restoreKeys): Promise<CacheEntry | undefined> {
      const here = saved.get(key);
      if (here) return here;
      const entry = await store.caches.find(key, restoreKeys);
      // An entry of this run is newer than any stored one: it wins unless the store has the exact key or an earlier prefix.
      if (entry?.key !== key) {
        const storedRank = entry ? prefixRank(entry.key, restoreKeys) : Infinity;
        let newest: CacheEntry | undefined;
        let rank = Infinity;
        for (const e of saved.values()) {
          const r = prefixRank(e.key, restoreKeys);
          if (r <= rank && r !== Infinity) [newest, rank] = [e, r];
        }
        if (newest && rank <= storedRank) return newest;
      }
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
