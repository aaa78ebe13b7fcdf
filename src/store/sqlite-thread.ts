/**
 * A worker thread that owns a second SQLite connection and runs write
 * batches on it, so that large batches (a step's log output) are encoded
 * into pages, written to the WAL and checkpointed off the event loop.
 *
 * Contract: `run` executes the statements in one transaction (BEGIN
 * IMMEDIATE ... COMMIT, `synchronous=FULL` around a durable one, as the
 * main connection does) and resolves once committed; it rejects with the
 * database's error (rolled back). Requests are answered in order. The
 * thread keeps the process alive only while a request is in flight. A
 * thread that dies fails its pending requests; the next `run` starts a new
 * one. `close` closes the connection and ends the thread.
 *
 * The thread's code is evaluated from a string (it needs nothing but
 * better-sqlite3, whose path is passed in), so it runs the same from the
 * built package and from the TypeScript sources under test. It applies
 * `storable` (sql-driver.ts, built from the same expressions) to the
 * parameters itself.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { LONE_SURROGATE, UNSTORABLE, type SqlValue } from "./sql-driver.js";

export type Statement = readonly [sql: string, params: readonly SqlValue[]];

interface Reply {
  readonly id: number;
  readonly error?: { readonly message: string; readonly code?: string };
}

const THREAD_CODE = `
const { parentPort, workerData } = require("node:worker_threads");
let db, openError;
try {
  const Database = require(workerData.sqlite);
  db = new Database(workerData.path, { timeout: workerData.timeout });
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = " + workerData.timeout);
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
} catch (e) {
  openError = e;
}
const unstorable = new RegExp(workerData.unstorable);
const lone = new RegExp(workerData.lone, "g");
// sql-driver.ts's storable(), for the parameters of the batches this thread writes
const storable = (v) => (typeof v !== "string" || !unstorable.test(v) ? v : v.replace(lone, "\uFFFD").replaceAll("\u0000", "\u2400"));
const statements = new Map();
const prepare = (sql) => {
  let s = statements.get(sql);
  if (!s) {
    if (statements.size > 500) statements.clear();
    s = db.prepare(sql);
    statements.set(sql, s);
  }
  return s;
};
const fail = (id, e) => parentPort.postMessage({ id, error: { message: String((e && e.message) || e), code: e && e.code } });
parentPort.on("message", (m) => {
  if (m.close) {
    if (db && db.open) db.close();
    parentPort.postMessage({ id: m.id });
    return;
  }
  if (openError) return fail(m.id, openError);
  try {
    if (m.durable) db.pragma("synchronous = FULL");
    try {
      db.exec("BEGIN IMMEDIATE");
      try {
        for (const [sql, params] of m.statements) prepare(sql).run(...params.map(storable));
        db.exec("COMMIT");
      } catch (e) {
        if (db.inTransaction) db.exec("ROLLBACK");
        throw e;
      }
    } finally {
      if (m.durable && db.open) db.pragma("synchronous = NORMAL");
    }
    parentPort.postMessage({ id: m.id });
  } catch (e) {
    fail(m.id, e);
  }
});
`;

export class SqliteThread {
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

  constructor(
    private readonly path: string,
    private readonly timeoutMs: number,
  ) {}

  /** Run `statements` in one transaction on the thread's connection. */
  run(statements: readonly Statement[], durable: boolean): Promise<void> {
    return this.#request({ statements, durable });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    await this.#request({ close: true }).catch(() => undefined);
    this.#worker = undefined;
    await worker.terminate();
  }

  #request(message: object): Promise<void> {
    const worker = this.#start();
    const id = this.#next++;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ ...message, id });
    });
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(THREAD_CODE, {
      eval: true,
      workerData: { sqlite, path: this.path, timeout: this.timeoutMs, unstorable: UNSTORABLE.source, lone: LONE_SURROGATE.source },
    });
    worker.unref();
    worker.on("message", (reply: Reply) => {
      const waiter = this.#pending.get(reply.id);
      if (!waiter) return;
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      if (reply.error) waiter.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
      else waiter.resolve();
    });
    const lost = (error: Error): void => {
      if (this.#worker === worker) this.#worker = undefined;
      const waiters = [...this.#pending.values()];
      this.#pending.clear();
      for (const w of waiters) w.reject(error);
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`the SQLite writer thread exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }
}
