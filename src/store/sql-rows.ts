/**
 * Rows of the SQL store: the column tables and upserts of jobs and steps, and
 * the mapping of rows to records (runs, jobs, steps, artifacts, log lines).
 * Pure: no database access.
 */
import type { RunStatus } from "../core/context.js";
import { linesText, type LogStream } from "../core/events.js";
import { UNSTORABLE, type Row, type SqlValue } from "./sql-driver.js";
import type {
  ArtifactRecord,
  JobRecord,
  JobUpsert,
  LogChunkWrite,
  LogLine,
  LogSegment,
  RunOwner,
  RunRecord,
  StepRecord,
  StepUpsert,
} from "./store.js";

const STREAM_CODE: Record<LogStream, number> = { stdout: 0, stderr: 1, system: 2 };
const CODE_STREAM: readonly LogStream[] = ["stdout", "stderr", "system"];

/** Columns of `jobs` / `steps` as [record field, column, encode]. */
type Column<T> = readonly [keyof T & string, string, (v: unknown) => SqlValue];
const asIs = (v: unknown): SqlValue => (v === undefined ? null : (v as SqlValue));
const json = (v: unknown): SqlValue => JSON.stringify(v);
export const JOB_COLUMNS: ReadonlyArray<Column<JobRecord>> = [
  ["key", "key", asIs],
  ["name", "name", asIs],
  ["position", "position", asIs],
  ["matrix", "matrix", json],
  ["needs", "needs", json],
  ["executor", "executor", asIs],
  ["status", "status", asIs],
  ["attempts", "attempts", asIs],
  ["jobHash", "job_hash", asIs],
  ["inputsHash", "inputs_hash", asIs],
  ["envHash", "env_hash", asIs],
  ["outputs", "outputs", json],
  ["reason", "reason", asIs],
  ["startedAt", "started_at", asIs],
  ["finishedAt", "finished_at", asIs],
  ["durationMs", "duration_ms", asIs],
  ["location", "location", asIs],
  ["logLimit", "log_limit", asIs],
  ["logTruncatedBytes", "log_truncated_bytes", asIs],
];
export const JOB_DEFAULTS: Readonly<Record<string, (u: JobUpsert) => SqlValue>> = {
  key: (u) => u.jobId,
  name: (u) => u.jobId,
  position: () => 0,
  matrix: () => "{}",
  needs: () => "[]",
  status: () => "queued",
  attempts: () => 0,
  outputs: () => "{}",
};
export const STEP_COLUMNS: ReadonlyArray<Column<StepRecord>> = [
  ["name", "name", asIs],
  ["status", "status", asIs],
  ["attempts", "attempts", asIs],
  ["exitCode", "exit_code", asIs],
  ["reason", "reason", asIs],
  ["startedAt", "started_at", asIs],
  ["finishedAt", "finished_at", asIs],
  ["durationMs", "duration_ms", asIs],
];
export const STEP_DEFAULTS: Readonly<Record<string, (u: StepUpsert) => SqlValue>> = {
  name: (u) => `step ${u.stepIndex + 1}`,
  status: () => "queued",
  attempts: () => 0,
};

/** `INSERT ... ON CONFLICT DO UPDATE` touching only the fields the upsert carries. */
export function upsertSql<T extends object>(
  table: string,
  keys: ReadonlyArray<readonly [string, string]>,
  columns: ReadonlyArray<Column<T>>,
  defaults: Readonly<Record<string, (u: T) => SqlValue>>,
  value: T,
): { sql: string; params: SqlValue[] } {
  const names: string[] = [];
  const params: SqlValue[] = [];
  const updates: string[] = [];
  for (const [field, column] of keys) {
    names.push(column);
    params.push((value as Record<string, SqlValue>)[field] ?? null);
  }
  for (const [field, column, encode] of columns) {
    const v = (value as Record<string, unknown>)[field];
    if (v !== undefined) {
      names.push(column);
      params.push(encode(v));
      updates.push(`${column} = excluded.${column}`);
    } else if (defaults[column]) {
      names.push(column);
      params.push(defaults[column](value));
    }
  }
  const conflict = keys.map(([, c]) => c).join(", ");
  const action = updates.length > 0 ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING";
  return {
    sql: `INSERT INTO ${table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")}) ON CONFLICT (${conflict}) ${action}`,
    params,
  };
}

export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function toRun(r: Row): RunRecord {
  const owner: RunOwner | null =
    r.owner_pid === null || r.owner_pid === undefined
      ? null
      : {
          pid: Number(r.owner_pid),
          host: String(r.owner_host ?? ""),
          boot: String(r.owner_boot ?? ""),
          started: String(r.owner_started ?? ""),
        };
  return {
    id: String(r.id),
    workflow: String(r.workflow),
    file: String(r.file),
    trigger: String(r.trigger),
    status: String(r.status) as RunStatus,
    planHash: str(r.plan_hash),
    startedAt: Number(r.started_at),
    finishedAt: num(r.finished_at),
    durationMs: num(r.duration_ms),
    owner,
    parentRunId: str(r.parent_run_id),
  };
}

export function toJob(r: Row): JobRecord {
  return {
    runId: String(r.run_id),
    jobId: String(r.job_id),
    key: String(r.key),
    name: String(r.name),
    matrix: JSON.parse(String(r.matrix)),
    needs: JSON.parse(String(r.needs)),
    executor: str(r.executor),
    status: String(r.status) as JobRecord["status"],
    attempts: Number(r.attempts),
    jobHash: str(r.job_hash),
    inputsHash: str(r.inputs_hash),
    envHash: str(r.env_hash),
    outputs: JSON.parse(String(r.outputs)),
    reason: str(r.reason),
    startedAt: num(r.started_at),
    finishedAt: num(r.finished_at),
    durationMs: num(r.duration_ms),
    position: Number(r.position),
    location: str(r.location),
    logLimit: num(r.log_limit),
    logTruncatedBytes: num(r.log_truncated_bytes),
  };
}

export function toStep(r: Row): StepRecord {
  return {
    runId: String(r.run_id),
    jobId: String(r.job_id),
    stepIndex: Number(r.step_index),
    name: String(r.name),
    status: String(r.status) as StepRecord["status"],
    attempts: Number(r.attempts),
    exitCode: num(r.exit_code),
    reason: str(r.reason),
    startedAt: num(r.started_at),
    finishedAt: num(r.finished_at),
    durationMs: num(r.duration_ms),
  };
}

/**
 * A chunk's row values. Current form (migration 7): `lines` is the chunk's
 * lines joined with `\n` and `segments` is JSON `[[count, msSinceFirst,
 * streamCode], ...]`, one entry per block of lines with one timestamp and
 * stream: no object or JSON string per line. A chunk with a line that holds
 * a `\n` (which would not split back the same) or text a database cannot
 * store as it is (NUL, a lone surrogate: JSON escapes them) is written in the older form:
 * `lines` as JSON `[[msSinceFirst, streamCode, text], ...]`, `segments` NULL.
 */
export function encodeChunk(chunk: LogChunkWrite): {
  tsFirst: number;
  text: string;
  segments: string | null;
  lineCount: number;
  bytes: number;
} {
  const segments = chunk.segments ?? segmentsOf(chunk.lines);
  const tsFirst = segments[0]?.ts ?? 0;
  const meta: Array<[number, number, number]> = [];
  const texts: string[] = [];
  let lineCount = 0;
  for (const seg of segments) {
    if (seg.lines.length === 0) continue;
    const last = meta[meta.length - 1];
    const dt = seg.ts - tsFirst;
    const code = STREAM_CODE[seg.stream];
    if (last && last[1] === dt && last[2] === code) last[0] += seg.lines.length;
    else meta.push([seg.lines.length, dt, code]);
    texts.push(linesText(seg.lines));
    lineCount += seg.lines.length;
  }
  const text = texts.length === 1 ? texts[0]! : texts.join("\n");
  if (newlines(text) !== lineCount - 1 || UNSTORABLE.test(text)) {
    const rows: Array<[number, number, string]> = [];
    for (const seg of segments) for (const line of seg.lines) rows.push([seg.ts - tsFirst, STREAM_CODE[seg.stream], line]);
    return { tsFirst, text: JSON.stringify(rows), segments: null, lineCount, bytes: text.length + 1 };
  }
  return { tsFirst, text, segments: JSON.stringify(meta), lineCount, bytes: text.length + 1 };
}

/** The lines of a chunk row, in either form (see `encodeChunk`). */
export function decodeChunk(tsFirst: number, text: string, segments: string | null): LogLine[] {
  if (segments === null) {
    const rows = JSON.parse(text) as Array<[number, number, string]>;
    return rows.map(([dt, s, line]) => ({ ts: tsFirst + dt, stream: CODE_STREAM[s] ?? "stdout", line }));
  }
  const lines = text.split("\n");
  const out: LogLine[] = [];
  let i = 0;
  for (const [count, dt, s] of JSON.parse(segments) as Array<[number, number, number]>) {
    const ts = tsFirst + dt;
    const stream = CODE_STREAM[s] ?? "stdout";
    for (const end = i + count; i < end && i < lines.length; i++) out.push({ ts, stream, line: lines[i]! });
  }
  return out;
}

/** Consecutive lines with the same timestamp and stream as one segment. */
function segmentsOf(lines: readonly LogLine[]): LogSegment[] {
  const out: Array<{ ts: number; stream: LogStream; lines: string[] }> = [];
  for (const l of lines) {
    const last = out[out.length - 1];
    if (last && last.ts === l.ts && last.stream === l.stream) last.lines.push(l.line);
    else out.push({ ts: l.ts, stream: l.stream, lines: [l.line] });
  }
  return out;
}

function newlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

export function toArtifact(r: Row): ArtifactRecord {
  return {
    runId: String(r.run_id),
    jobId: String(r.job_id),
    name: String(r.name),
    hash: String(r.hash),
    size: Number(r.size),
    createdAt: Number(r.created_at),
  };
}
