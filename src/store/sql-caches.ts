/**
 * Keyed cache entries (table `caches`, migration 3) for `SqlStore`: one row
 * per key and path. The same SQL on both dialects; prefixes are matched with
 * `substr`, so keys need no LIKE escaping.
 */
import type { Row, SqlRunner } from "./sql-driver.js";
import type { CacheRecord } from "./store.js";

/** Insert an entry's rows; rows of a key and path that exist already are left as they are (first save wins). */
export async function writeCacheEntry(tx: SqlRunner, entry: CacheRecord): Promise<void> {
  for (const [path, blob] of Object.entries(entry.paths)) {
    await tx.run(
      `INSERT INTO caches (key, path, hash, size, run_id, job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key, path) DO NOTHING`,
      [entry.key, path, blob.hash, blob.size, entry.runId, entry.jobId, entry.createdAt],
    );
  }
}

function toEntry(rows: readonly Row[]): CacheRecord | undefined {
  const first = rows[0];
  if (!first) return undefined;
  const paths: Record<string, { hash: string; size: number }> = {};
  for (const r of rows) paths[String(r.path)] = { hash: String(r.hash), size: Number(r.size) };
  return { key: String(first.key), runId: String(first.run_id), jobId: String(first.job_id), createdAt: Number(first.created_at), paths };
}

export async function findCacheEntry(q: SqlRunner, key: string, prefixes: readonly string[] = []): Promise<CacheRecord | undefined> {
  const exact = toEntry(await q.all(`SELECT * FROM caches WHERE key = ? ORDER BY path`, [key]));
  if (exact) return exact;
  for (const prefix of prefixes) {
    const newest = await q.all(
      `SELECT key FROM caches WHERE substr(key, 1, ${prefix.length}) = ? ORDER BY created_at DESC, key DESC LIMIT 1`,
      [prefix],
    );
    if (newest[0]) return toEntry(await q.all(`SELECT * FROM caches WHERE key = ? ORDER BY path`, [String(newest[0].key)]));
  }
  return undefined;
}
