/**
 * The time limit on loading a workflow. A workflow's top-level code runs when
 * its bundle is imported; code that never finishes (an endless loop, an
 * `await` that never settles) would hang or silently end every command. The
 * bundle is first imported in a throw-away worker thread, which can be
 * terminated when the limit passes (a busy loop cannot be interrupted any
 * other way); only once that probe finished is it imported in this thread,
 * itself raced against the same limit.
 */
import { Worker } from "node:worker_threads";
import { formatDuration, parseDuration } from "../core/duration.js";
import { GantryError } from "../core/errors.js";

/** The default limit on loading one workflow file. */
export const DEFAULT_LOAD_TIMEOUT_MS = 30_000;
/** The environment variable that sets the limit (`"30s"`, `"2m"`, `"500ms"`, or seconds). */
export const LOAD_TIMEOUT_ENV = "GANTRY_LOAD_TIMEOUT";

/** The configured limit in milliseconds: `GANTRY_LOAD_TIMEOUT`, else 30 s. */
export function loadTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LOAD_TIMEOUT_ENV]?.trim();
  if (raw === undefined || raw === "") return DEFAULT_LOAD_TIMEOUT_MS;
  const ms = /^\d+(\.\d+)?$/.test(raw) ? Math.round(Number(raw) * 1000) : parseDuration(raw);
  if (ms === undefined || ms <= 0) {
    throw new GantryError(
      "LOAD_FAILED",
      `${LOAD_TIMEOUT_ENV}=${JSON.stringify(raw)} is not a duration; use for example ${LOAD_TIMEOUT_ENV}=30s, 2m or 500ms`,
    );
  }
  return ms;
}

// The worker boots while the bundle is built, then receives the bundle's URL.
// "beforeExit" fires when its event loop empties (not on an explicit `process.exit()`).
const PROBE = `const { parentPort } = require("node:worker_threads");
let settled = false;
const done = () => { settled = true; parentPort.postMessage("settled"); };
process.once("beforeExit", () => { if (!settled) parentPort.postMessage("unsettled"); });
parentPort.once("message", (url) => { parentPort.unref(); import(url).then(done, done); });`;

function hint(limitMs: number): string {
  return `loading is limited to ${formatDuration(limitMs)} (set ${LOAD_TIMEOUT_ENV}, e.g. ${LOAD_TIMEOUT_ENV}=2m, to change it)`;
}

const limitErrors = new WeakSet<Error>();

/** Whether `error` is this module's time-limit error (not one thrown by the workflow's own code). */
export function isLoadLimitError(error: unknown): boolean {
  return error instanceof Error && limitErrors.has(error);
}

function timedOut(file: string, limitMs: number): GantryError {
  const error = new GantryError(
    "LOAD_FAILED",
    `${file}: the workflow did not finish loading within ${formatDuration(limitMs)}; its top-level code loops or waits forever (fix it, or raise the limit with ${LOAD_TIMEOUT_ENV}, e.g. ${LOAD_TIMEOUT_ENV}=2m)`,
  );
  limitErrors.add(error);
  return error;
}

/** A worker thread, started early, that imports one bundle to see whether its top-level code finishes. */
export interface LoadProbe {
  /**
   * Import `url` in the worker and wait until its top-level code finished
   * (or threw: the import in this thread then reports the error with its
   * location). Throws `LOAD_FAILED` naming `file` when it is still running
   * after `limitMs`, or when its top-level `await` can never settle.
   * Terminates the worker.
   */
  run(url: string, file: string, limitMs: number): Promise<void>;
  /** Terminate the worker without using it. */
  dispose(): Promise<void>;
}

export function startLoadProbe(): LoadProbe {
  const worker = new Worker(PROBE, { eval: true, stdout: true, stderr: true, env: process.env });
  // The probe's output is discarded: the real import prints it once.
  worker.stdout.resume();
  worker.stderr.resume();
  // Not started yet, it must not keep the process alive (a bundling error ends the command).
  worker.unref();
  let exited = false;
  worker.once("exit", () => {
    exited = true;
  });
  // The worker could not start: the real import decides.
  worker.on("error", () => undefined);
  const dispose = async (): Promise<void> => {
    await worker.terminate();
  };
  const run = async (url: string, file: string, limitMs: number): Promise<void> => {
    if (exited) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(timedOut(file, limitMs)), limitMs);
        worker.once("message", (message) => {
          if (message === "settled") resolve();
          // Its event loop emptied with the import unsettled: this thread would exit 13.
          else
            reject(
              new GantryError(
                "LOAD_FAILED",
                `${file}: the workflow's top-level await never settles (it waits on a promise nothing will resolve), so it cannot load; ${hint(limitMs)}`,
              ),
            );
        });
        // The worker failed, or the workflow called `process.exit()`: the real import decides.
        worker.once("error", () => resolve());
        worker.once("exit", () => resolve());
        worker.postMessage(url);
      });
    } finally {
      clearTimeout(timer);
      await dispose();
    }
  };
  return { run, dispose };
}

/**
 * Race `promise` (the import in this thread) against `limitMs`. The timer is
 * referenced, so an unsettled top-level await ends with this message instead
 * of Node's silent exit code 13.
 */
export async function withinLoadLimit<T>(promise: Promise<T>, file: string, limitMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(timedOut(file, limitMs)), limitMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
