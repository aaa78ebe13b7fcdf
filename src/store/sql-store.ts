/**
 * The `Store` over any `SqlDriver`: the SQL is the same for SQLite and
 * PostgreSQL (upserts with `ON CONFLICT ... DO UPDATE`, `excluded.*`), so both
 * implementations are this class plus a driver.
 */
import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import type { Plan } from "../core/plan-types.js";
import type { BlobDir } from "./blobs.js";
import { listAudit, writeAudit } from "./sql-audit.js";
import { SqlQueue } from "./queue/sql-queue.js";
import { sqlHookStore } from "./sql-hooks.js";
import { pendingMigrations, SCHEMA_MIGRATIONS_TABLE } from "./migrations/index.js";
import { findCacheEntry, writeCacheEntry } from "./sql-caches.js";
import type { SqlDriver, SqlRunner, SqlValue } from "./sql-driver.js";
import { countTokens, findTokenByHash, getToken, insertToken, listTokens, revokeToken } from "./sql-tokens.js";
import {
  JOB_COLUMNS,
  JOB_DEFAULTS,
  STEP_COLUMNS,
  STEP_DEFAULTS,
  decodeChunk,
  encodeChunk,
  num,
  toArtifact,
  toJob,
  toRun,
  toStep,
  upsertSql,
} from "./sql-rows.js";
import type { CacheKey, CompactResult, LogChunk, LogQuery, RunFilter, Store, StoreOp, WriteOptions } from "./store.js";

/** Apply one operation of a batch inside `tx` (also used by the queue's fenced writes). */
export async function applyOp(tx: SqlRunner, op: StoreOp): Promise<void> {
  switch (op.op) {
    case "run": {
      const r = op.run;
      const o = r.owner;
      await tx.run(
        `INSERT INTO runs (id, workflow, file, trigger, status, plan_hash, parent_run_id, started_at, owner_pid, owner_host, owner_boot, owner_started)
         VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        [
          r.id,
          r.workflow,
          r.file,
          r.trigger,
          r.planHash,
          r.parentRunId ?? null,
          r.startedAt,
          o?.pid ?? null,
          o?.host ?? null,
          o?.boot ?? null,
          o?.started ?? null,
        ],
      );
      return;
    }
    case "run.finish":
      await tx.run(`UPDATE runs SET status = ?, finished_at = ?, duration_ms = ? WHERE id = ?`, [
        op.status,
        op.finishedAt,
        op.durationMs,
        op.runId,
      ]);
      return;
    case "job": {
      const q = upsertSql(
        "jobs",
        [
          ["runId", "run_id"],
          ["jobId", "job_id"],
        ],
        JOB_COLUMNS,
        JOB_DEFAULTS,
        op.job,
      );
      await tx.run(q.sql, q.params);
      return;
    }
    case "step": {
      const keys = [
        ["runId", "run_id"],
        ["jobId", "job_id"],
        ["stepIndex", "step_index"],
      ] as const;
      const q = upsertSql("steps", keys, STEP_COLUMNS, STEP_DEFAULTS, op.step);
      await tx.run(q.sql, q.params);
      return;
    }
    case "logs": {
      const c = op.chunk;
      const { tsFirst, text, segments, lineCount, bytes } = encodeChunk(c);
      await tx.run(
        `INSERT INTO log_chunks (run_id, job_id, seq, step_index, ts_first, line_count, bytes, lines, segments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, job_id, seq) DO NOTHING`,
        [c.runId, c.jobId, c.seq, c.stepIndex, tsFirst, lineCount, bytes, text, segments],
      );
      return;
    }
    case "artifact": {
      const a = op.artifact;
      await tx.run(
        `INSERT INTO artifacts (run_id, job_id, name, hash, size, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, job_id, name) DO UPDATE SET hash = excluded.hash, size = excluded.size, created_at = excluded.created_at`,
        [a.runId, a.jobId, a.name, a.hash, a.size, a.createdAt],
      );
      return;
    }
    case "cache":
      await writeCacheEntry(tx, op.entry);
      return;
    case "audit":
      await writeAudit(tx, op.entry);
      return;
    case "plan":
      await tx.run(`INSERT INTO plans (hash, workflow, body, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`, [
        op.plan.hash,
        op.plan.workflow.name,
        JSON.stringify(op.plan),
        Date.now(),
      ]);
      return;
    case "token":
      await insertToken(tx, op.token);
      return;
    case "token.revoke":
      await revokeToken(tx, op.id, op.at);
      return;
  }
}

/** Operations whose statements can be recorded and run elsewhere (`applyOp` reads no result for them). */
const RECORDABLE: ReadonlySet<StoreOp["op"]> = new Set(["run", "run.finish", "job", "step", "logs", "artifact", "plan", "cache"]);
/** Log text in one batch (characters) from which a driver's writer thread takes the store's batches. */
const OFFLOAD_FROM = 512 * 1024;

/** Characters of log text in `ops` (segments only: the store writer's form). */
function logText(ops: readonly StoreOp[]): number {
  let n = 0;
  for (const op of ops) {
    if (op.op !== "logs" || !op.chunk.segments) continue;
    for (const seg of op.chunk.segments) for (const line of seg.lines) n += line.length;
  }
  return n;
}

export class SqlStore implements Store {
  readonly kind: "sqlite" | "postgres";
  readonly location: string;
  private closed = false;
  /** A batch went to the driver's writer thread: later ones go there too. */
  private offloading = false;

  constructor(
    private readonly db: SqlDriver,
    private readonly blobs: BlobDir,
  ) {
    this.kind = db.dialect;
    this.location = db.location;
    this.queue = new SqlQueue(() => this.q, applyOp, db.dialect);
    this.hooks = sqlHookStore(() => this.q);
    Object.assign(this.artifacts, { blobs });
  }

  private get q(): SqlDriver {
    if (this.closed) throw new Error(`the store at ${this.location} is closed`);
    return this.db;
  }

  readonly runs: Store["runs"] = {
    get: async (id) => {
      const rows = await this.q.all(`SELECT * FROM runs WHERE id = ?`, [id]);
      return rows[0] ? toRun(rows[0]) : undefined;
    },
    list: async (filter: RunFilter = {}) => {
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (filter.workflow !== undefined) {
        where.push("workflow = ?");
        params.push(filter.workflow);
      }
      if (filter.status !== undefined) {
        where.push("status = ?");
        params.push(filter.status);
      }
      if (filter.before !== undefined) {
        where.push("started_at < ?");
        params.push(filter.before);
      }
      if (filter.after !== undefined) {
        // A row-value comparison: both SQLite and PostgreSQL walk the (started_at, id) index with it.
        where.push("(started_at, id) < (?, ?)");
        params.push(filter.after.startedAt, filter.after.id);
      }
      if (filter.idPrefix !== undefined) {
        // Exact and case-sensitive on both dialects, with no LIKE escaping.
        where.push(`substr(id, 1, ${filter.idPrefix.length}) = ?`);
        params.push(filter.idPrefix);
      }
      const limit = Math.max(1, Math.min(filter.limit ?? 50, 10_000));
      const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY started_at DESC, id DESC LIMIT ${limit}`;
      return (await this.q.all(sql, params)).map(toRun);
    },
    markInterrupted: async (isAlive, now = Date.now()) => {
      const running = (await this.q.all(`SELECT * FROM runs WHERE status = 'running' AND owner_pid IS NOT NULL`)).map(toRun);
      const dead = running.filter((r) => r.owner && !isAlive(r.owner));
      for (const run of dead) {
        const reason = `interrupted: the process that ran it (pid ${run.owner?.pid} on ${run.owner?.host}) is gone`;
        await this.q.transaction(async (tx) => {
          const changed = await tx.run(
            `UPDATE runs SET status = 'interrupted', finished_at = ?, duration_ms = ? WHERE id = ? AND status = 'running'`,
            [now, Math.max(0, now - run.startedAt), run.id],
          );
          if (changed === 0) return;
          await tx.run(
            `UPDATE jobs SET status = 'cancelled', reason = ?, finished_at = ?, duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE ? - started_at END
             WHERE run_id = ? AND status IN ('queued', 'running')`,
            [reason, now, now, run.id],
          );
          await tx.run(
            `UPDATE steps SET status = 'cancelled', reason = ?, finished_at = ?, duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE ? - started_at END
             WHERE run_id = ? AND status IN ('queued', 'running')`,
            [reason, now, now, run.id],
          );
        });
      }
      return dead.map((r) => r.id);
    },
    prune: async (before) => {
      const ids = (await this.q.all(`SELECT id FROM runs WHERE started_at < ? AND status <> 'running'`, [before])).map((r) => String(r.id));
      for (let i = 0; i < ids.length; i += 200) {
        const part = ids.slice(i, i + 200);
        const inList = part.map(() => "?").join(", ");
        await this.q.transaction(async (tx) => {
          for (const table of ["log_chunks", "artifacts", "steps", "jobs"])
            await tx.run(`DELETE FROM ${table} WHERE run_id IN (${inList})`, part);
          await tx.run(`DELETE FROM runs WHERE id IN (${inList})`, part);
        });
      }
      await this.q.run(`DELETE FROM caches WHERE created_at < ?`, [before]);
      await this.q.run(`DELETE FROM plans WHERE hash NOT IN (SELECT plan_hash FROM runs WHERE plan_hash IS NOT NULL)`);
      await this.q.run(
        `DELETE FROM bundles WHERE hash NOT IN (SELECT DISTINCT bundle FROM (SELECT ${this.kind === "postgres" ? "body::json->>'bundle'" : "json_extract(body, '$.bundle')"} AS bundle FROM plans) b WHERE bundle IS NOT NULL)`,
      );
      return ids.length;
    },
  };

  readonly jobs: Store["jobs"] = {
    list: async (runId) => (await this.q.all(`SELECT * FROM jobs WHERE run_id = ? ORDER BY position, job_id`, [runId])).map(toJob),
    steps: async (runId, jobId) => {
      const rows =
        jobId === undefined
          ? await this.q.all(
              `SELECT s.* FROM steps s LEFT JOIN jobs j ON j.run_id = s.run_id AND j.job_id = s.job_id WHERE s.run_id = ? ORDER BY j.position, s.job_id, s.step_index`,
              [runId],
            )
          : await this.q.all(`SELECT * FROM steps WHERE run_id = ? AND job_id = ? ORDER BY step_index`, [runId, jobId]);
      return rows.map(toStep);
    },
    findCached: async (key: CacheKey) => {
      const rows = await this.q.all(
        `SELECT * FROM jobs WHERE job_hash = ? AND inputs_hash = ? AND env_hash = ? AND status IN ('success', 'cached') ORDER BY finished_at DESC LIMIT 1`,
        [key.jobHash, key.inputsHash, key.envHash],
      );
      return rows[0] ? toJob(rows[0]) : undefined;
    },
  };

  readonly logs: Store["logs"] = {
    read: async (query: LogQuery) => {
      const where = ["c.run_id = ?"];
      const params: SqlValue[] = [query.runId];
      if (query.jobId !== undefined) {
        where.push("c.job_id = ?");
        params.push(query.jobId);
      }
      if (query.stepIndex === null) where.push("c.step_index IS NULL");
      else if (query.stepIndex !== undefined) {
        where.push("c.step_index = ?");
        params.push(query.stepIndex);
      }
      const after = Object.entries(query.after ?? {});
      if (after.length > 0) {
        where.push(`c.seq > CASE c.job_id ${after.map(() => "WHEN ? THEN ?").join(" ")} ELSE 0 END`);
        for (const [job, seq] of after) params.push(job, seq);
      }
      const limit = Math.max(1, Math.min(query.limit ?? 1000, 100_000));
      const rows = await this.q.all(
        `SELECT c.run_id, c.job_id, c.seq, c.step_index, c.ts_first, c.lines, c.segments FROM log_chunks c
         LEFT JOIN jobs j ON j.run_id = c.run_id AND j.job_id = c.job_id
         WHERE ${where.join(" AND ")} ORDER BY j.position, c.job_id, c.seq LIMIT ${limit}`,
        params,
      );
      return rows.map((r): LogChunk => ({
        runId: String(r.run_id),
        jobId: String(r.job_id),
        seq: Number(r.seq),
        stepIndex: num(r.step_index),
        lines: decodeChunk(
          Number(r.ts_first),
          String(r.lines),
          r.segments === null || r.segments === undefined ? null : String(r.segments),
        ),
      }));
    },
  };

  readonly artifacts: Store["artifacts"] = {
    list: async (runId, jobId) => {
      const rows =
        jobId === undefined
          ? await this.q.all(`SELECT * FROM artifacts WHERE run_id = ? ORDER BY name, job_id`, [runId])
          : await this.q.all(`SELECT * FROM artifacts WHERE run_id = ? AND job_id = ? ORDER BY name`, [runId, jobId]);
      return rows.map(toArtifact);
    },
    // Set by the constructor: field initializers run before parameter properties are assigned.
    blobs: undefined as unknown as BlobDir,
    putBlob: (hash, sourcePath) => this.blobs.put(hash, sourcePath),
    blobPath: async (hash) => ((await this.blobs.has(hash)) ? this.blobs.pathOf(hash) : undefined),
    sweepBlobs: async (graceMs = 3_600_000) => {
      const keep = new Set((await this.q.all(`SELECT hash FROM artifacts UNION SELECT hash FROM caches`)).map((r) => String(r.hash)));
      return this.blobs.sweep(keep, graceMs);
    },
  };

  readonly caches: Store["caches"] = {
    find: (key, prefixes) => findCacheEntry(this.q, key, prefixes),
  };

  readonly plans: Store["plans"] = {
    get: async (hash) => {
      const rows = await this.q.all(`SELECT body FROM plans WHERE hash = ?`, [hash]);
      return rows[0] ? (JSON.parse(String(rows[0].body)) as Plan) : undefined;
    },
    putBundle: async (hash, code) => {
      await this.q.run(`INSERT INTO bundles (hash, code, created_at) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING`, [
        hash,
        code,
        Date.now(),
      ]);
    },
    getBundle: async (hash) => {
      const rows = await this.q.all(`SELECT code FROM bundles WHERE hash = ?`, [hash]);
      return rows[0] ? String(rows[0].code) : undefined;
    },
  };

  readonly tokens: Store["tokens"] = {
    findByHash: (hash) => findTokenByHash(this.q, hash),
    get: (id) => getToken(this.q, id),
    list: () => listTokens(this.q),
    count: () => countTokens(this.q),
  };
  readonly queue: Store["queue"];
  readonly hooks: Store["hooks"];

  readonly audit: Store["audit"] = {
    list: (query) => listAudit(this.q, query),
  };

  private readonly keys = new Map<string, Promise<string>>();

  secretKey(name: string): Promise<string> {
    let key = this.keys.get(name);
    if (!key) {
      key = (async () => {
        await this.q.run(`INSERT INTO store_keys (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`, [
          name,
          randomBytes(32).toString("hex"),
          Date.now(),
        ]);
        const rows = await this.q.all(`SELECT value FROM store_keys WHERE name = ?`, [name]);
        return String(rows[0]?.value);
      })();
      key.catch(() => this.keys.delete(name));
      this.keys.set(name, key);
    }
    return key;
  }

  async counts(): Promise<{ runs: Record<string, number>; jobs: Record<string, number> }> {
    const tally = async (table: string): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const r of await this.q.all(`SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`)) out[String(r.status)] = Number(r.n);
      return out;
    };
    return { runs: await tally("runs"), jobs: await tally("jobs") };
  }

  async compact(options: { readonly minFreeShare?: number } = {}): Promise<CompactResult | undefined> {
    if (this.db.dialect !== "sqlite") return undefined;
    const pragma = async (name: string): Promise<number> => Number(Object.values((await this.q.all(`PRAGMA ${name}`))[0] ?? {})[0] ?? 0);
    const onDisk = async (): Promise<number> => {
      let bytes = 0;
      for (const file of [this.location, `${this.location}-wal`]) bytes += (await stat(file).catch(() => undefined))?.size ?? 0;
      return bytes;
    };
    const pages = await pragma("page_count");
    const freeShare = pages === 0 ? 0 : (await pragma("freelist_count")) / pages;
    const before = await onDisk();
    if (freeShare < (options.minFreeShare ?? 0.25)) return { before, after: before, freeShare, vacuumed: false };
    await this.q.run("VACUUM");
    await this.q.all("PRAGMA wal_checkpoint(TRUNCATE)");
    return { before, after: await onDisk(), freeShare, vacuumed: true };
  }

  async schemaVersion(): Promise<number> {
    const rows = await this.q.all(`SELECT MAX(version) AS v FROM schema_migrations`);
    return Number(rows[0]?.v ?? 0);
  }

  async write(ops: readonly StoreOp[], options: WriteOptions = {}): Promise<void> {
    if (ops.length === 0) return;
    const db = this.q;
    if (db.offload && (this.offloading || logText(ops) >= OFFLOAD_FROM) && ops.every((op) => RECORDABLE.has(op.op))) {
      // a step's output: the statements run on the driver's writer thread, off the event loop
      this.offloading = true;
      const statements: Array<readonly [string, readonly SqlValue[]]> = [];
      const recorder: SqlRunner = {
        all: () => Promise.reject(new Error("not recordable")),
        run: (sql, params = []) => {
          statements.push([sql, params]);
          return Promise.resolve(1);
        },
      };
      for (const op of ops) await applyOp(recorder, op);
      await db.offload(statements, { durable: options.durable !== false });
      return;
    }
    await this.q.transaction(
      async (tx) => {
        for (const op of ops) await applyOp(tx, op);
      },
      { durable: options.durable !== false },
    );
  }

  async migrate(): Promise<number[]> {
    const applied: number[] = [];
    await this.q.migrateWith(async (tx) => {
      await tx.exec(SCHEMA_MIGRATIONS_TABLE);
      const done = (await tx.all(`SELECT version FROM schema_migrations`)).map((r) => Number(r.version));
      for (const m of pendingMigrations(done, this.location)) {
        await tx.exec(this.kind === "sqlite" ? m.sqlite : m.postgres);
        await tx.run(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, [m.version, m.name, Date.now()]);
        applied.push(m.version);
      }
    });
    return applied;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}
