/**
 * A scriptable fake executor that checks its caller. Step scripts are read
 * as a tiny language, one command per line (or separated by `;` / `&&`);
 * the first non-zero exit ends the script, like `set -e`:
 *
 *   echo TEXT          stdout line ($NAME and ${NAME} expand from the env)
 *   echoerr TEXT       stderr line
 *   exit N | true | false
 *   sleep MS           wait (stops when the signal aborts)
 *   hang               wait until the signal aborts
 *   fail-times N       exit 1 the first N times this script runs in this job, then go on
 *   throw [MESSAGE]    an infrastructure fault: exec rejects with a retryable GantryError
 *   write PATH TEXT    create a file in the job directory (in memory)
 *   cat PATH           print a file; exit 1 when it is missing
 *   exists PATH | test -f PATH | test -e PATH   exit 1 when missing
 *   env NAME           print the value of NAME
 *   pwd                print the job directory
 *
 * `readFiles` / `writeFiles` move a (JSON, not tar) archive with the same
 * meaning as the real executors' tar: entries are relative to the packed
 * path, so `writeFiles(q, readFiles(p))` makes `q` a copy of `p`, whether
 * `p` is a file or a directory.
 *
 * `argv` requests run `argv[0]` as the command with the rest as its words.
 * A job whose env has `FAKE_FAIL_SETUP_JOB=N` fails its first N `setupJob`
 * calls (`always`: every one).
 *
 * Every call is recorded in `calls`. When the caller breaks the executor
 * contract (see core/executor.ts) the call throws and the problem is added to
 * `violations`: exec before setupJob or after cleanupJob, setupJob before the
 * workspace is set up, setupWorkspace twice, cleanupWorkspace while jobs are
 * active, any call after cleanupWorkspace, cleanup with an aborted signal,
 * overlapping calls for one job, a job of another executor.
 */
import { posix } from "node:path";
import { Readable } from "node:stream";
import { GantryError } from "../core/errors.js";
import type { ExecIO, ExecRequest, ExecResult, Executor, JobInfo, WorkspaceInfo } from "../core/executor.js";
import { checkRelativePath } from "../core/paths.js";
import type { PlanExecutor } from "../core/plan-types.js";

export type FakeMethod = "setupWorkspace" | "cleanupWorkspace" | "setupJob" | "exec" | "readFiles" | "writeFiles" | "cleanupJob";

export interface FakeCall {
  readonly seq: number;
  readonly method: FakeMethod;
  readonly jobId?: string;
  readonly attempt?: number;
  readonly script?: string;
  readonly argv?: readonly string[];
  readonly path?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export interface FakeExecutorOptions {
  readonly name?: string;
  readonly kind?: string;
  /** Make `setupWorkspace` reject with this message. */
  readonly failSetupWorkspace?: string;
  /** Make `cleanupWorkspace` reject with this message (after recording it). */
  readonly failCleanupWorkspace?: string;
  /** Time `setupWorkspace` takes, to let concurrent jobs wait for it. */
  readonly setupWorkspaceMs?: number;
}

export interface FakeExecutor extends Executor {
  readonly kind: string;
  readonly calls: readonly FakeCall[];
  readonly violations: readonly string[];
  /** The files of a job's directory (path -> content), as the fake holds them. */
  files(jobId: string): Map<string, Buffer>;
  /** The largest number of jobs that were set up (setupJob .. cleanupJob) at the same time. */
  readonly maxActiveJobs: number;
}

type WorkspaceState = "none" | "setting-up" | "ready" | "failed" | "cleaning" | "cleaned";

interface JobState {
  set: boolean;
  attempt: number;
  execs: number;
  others: number;
}

interface Archive {
  readonly fake: 1;
  readonly entries: ReadonlyArray<{ readonly path: string; readonly data: string }>;
}

function aborted(signal: AbortSignal): ExecResult {
  const reason = signal.reason as { name?: unknown } | undefined;
  const timedOut = typeof reason === "object" && reason !== null && reason.name === "TimeoutError";
  return { exitCode: null, signal: "SIGTERM", timedOut, cancelled: !timedOut };
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    signal.addEventListener("abort", done, { once: true });
  });
}

function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_, a?: string, b?: string) => env[(a ?? b) as string] ?? "",
  );
}

function normal(path: string): string {
  const checked = checkRelativePath(path);
  if (!checked.ok) throw new GantryError("PATH_ESCAPE", checked.error);
  return checked.path;
}

export function createFakeExecutor(options: FakeExecutorOptions = {}): FakeExecutor {
  const name = options.name ?? "fake";
  const calls: FakeCall[] = [];
  const violations: string[] = [];
  const jobs = new Map<string, JobState>();
  const fileSystems = new Map<string, Map<string, Buffer>>();
  const counters = new Map<string, number>();
  const setupFailures = new Map<string, number>();
  let workspace: WorkspaceState = "none";
  let activeCalls = 0;
  let activeJobs = 0;
  let maxActiveJobs = 0;
  let seq = 0;

  const violate = (message: string): never => {
    violations.push(message);
    throw new GantryError("INTERNAL", `fake executor "${name}": contract violation: ${message}`);
  };
  const record = (call: Omit<FakeCall, "seq">): void => {
    calls.push({ seq: seq++, ...call });
  };
  const notAfterCleanup = (method: FakeMethod): void => {
    if (workspace === "cleaned" || workspace === "cleaning") violate(`${method} after cleanupWorkspace`);
  };
  const stateOf = (info: JobInfo): JobState => {
    let state = jobs.get(info.job.id);
    if (!state) jobs.set(info.job.id, (state = { set: false, attempt: 0, execs: 0, others: 0 }));
    return state;
  };
  const checkJob = (method: FakeMethod, info: JobInfo): JobState => {
    notAfterCleanup(method);
    if (info.job.executor !== name) violate(`${method} for job "${info.job.id}" of executor "${info.job.executor}"`);
    const state = stateOf(info);
    if (!state.set) violate(`${method} for job "${info.job.id}" outside setupJob..cleanupJob`);
    if (state.attempt !== info.attempt)
      violate(`${method} for job "${info.job.id}" attempt ${info.attempt}, but attempt ${state.attempt} is set up`);
    return state;
  };
  const filesOf = (jobId: string): Map<string, Buffer> => {
    let files = fileSystems.get(jobId);
    if (!files) fileSystems.set(jobId, (files = new Map()));
    return files;
  };
  async function tracked<T>(state: JobState | undefined, exec: boolean, work: () => Promise<T>): Promise<T> {
    activeCalls++;
    if (state && exec) state.execs++;
    else if (state) state.others++;
    try {
      return await work();
    } finally {
      activeCalls--;
      if (state && exec) state.execs--;
      else if (state) state.others--;
    }
  }
  const sequential = (method: FakeMethod, info: JobInfo, state: JobState): void => {
    if (state.others > 0 || state.execs > 0) violate(`${method} for job "${info.job.id}" while another call for that job is running`);
  };

  async function interpret(info: JobInfo, req: ExecRequest, io: ExecIO): Promise<ExecResult> {
    const files = filesOf(info.job.id);
    const lines = req.argv ? [req.argv.join(" ")] : (req.script ?? "").split(/\n|;|&&/);
    const ok: ExecResult = { exitCode: 0, signal: null, timedOut: false, cancelled: false };
    const exit = (code: number): ExecResult => ({ exitCode: code, signal: null, timedOut: false, cancelled: false });
    const out = (text: string): void => void io.stdout(Buffer.from(`${text}\n`));
    const err = (text: string): void => void io.stderr(Buffer.from(`${text}\n`));
    for (const raw of lines) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      if (req.signal.aborted) return aborted(req.signal);
      const space = line.indexOf(" ");
      const command = space === -1 ? line : line.slice(0, space);
      const rest = space === -1 ? "" : line.slice(space + 1).trim();
      switch (command) {
        case "echo":
          out(expand(rest, req.env));
          break;
        case "echoerr":
          err(expand(rest, req.env));
          break;
        case "true":
          break;
        case "false":
          return exit(1);
        case "exit":
          return exit(Number(rest || "0"));
        case "sleep":
          await wait(Number(rest), req.signal);
          if (req.signal.aborted) return aborted(req.signal);
          break;
        case "hang":
          await wait(Infinity, req.signal);
          return aborted(req.signal);
        case "fail-times": {
          const key = `${info.job.id}\0${req.script ?? req.argv?.join(" ")}`;
          const count = counters.get(key) ?? 0;
          counters.set(key, count + 1);
          if (count < Number(rest)) {
            err(`fake: planned failure ${count + 1} of ${rest}`);
            return exit(1);
          }
          break;
        }
        case "throw":
          throw new GantryError("EXECUTOR_FAILED", rest || "fake infrastructure fault", { retryable: true });
        case "write": {
          const at = rest.indexOf(" ");
          const path = normal(at === -1 ? rest : rest.slice(0, at));
          files.set(path, Buffer.from(`${expand(at === -1 ? "" : rest.slice(at + 1), req.env)}\n`));
          break;
        }
        case "cat": {
          const data = files.get(normal(rest));
          if (!data) {
            err(`cat: ${rest}: No such file or directory`);
            return exit(1);
          }
          io.stdout(data);
          break;
        }
        case "exists":
        case "test": {
          const path = normal(command === "test" ? rest.replace(/^-[ef]\s+/, "") : rest);
          const found = files.has(path) || [...files.keys()].some((k) => k.startsWith(`${path}/`));
          if (!found) return exit(1);
          break;
        }
        case "env":
          out(req.env[rest] ?? "");
          break;
        case "pwd":
          out(`/fake/${name}/${info.job.id}`);
          break;
        default:
          err(`fake: unknown command "${command}"`);
          return exit(127);
      }
    }
    return ok;
  }

  const fake: FakeExecutor = {
    name,
    kind: options.kind ?? "local",
    calls,
    violations,
    get maxActiveJobs() {
      return maxActiveJobs;
    },
    files: filesOf,

    async setupWorkspace(ws: WorkspaceInfo) {
      record({ method: "setupWorkspace" });
      notAfterCleanup("setupWorkspace");
      if (workspace !== "none") violate("setupWorkspace called twice");
      if (activeCalls > 0) violate("setupWorkspace overlaps another call");
      if (ws.executor.name !== name) violate(`setupWorkspace for executor "${ws.executor.name}"`);
      workspace = "setting-up";
      await tracked(undefined, false, async () => {
        if (options.setupWorkspaceMs) await wait(options.setupWorkspaceMs, ws.signal);
      });
      if (options.failSetupWorkspace !== undefined) {
        workspace = "failed";
        throw new GantryError("EXECUTOR_FAILED", options.failSetupWorkspace);
      }
      workspace = "ready";
    },

    async cleanupWorkspace(ws: WorkspaceInfo) {
      record({ method: "cleanupWorkspace" });
      notAfterCleanup("cleanupWorkspace");
      if (ws.signal.aborted) violate("cleanupWorkspace got an already aborted signal");
      if (activeCalls > 0) violate("cleanupWorkspace overlaps another call");
      for (const [id, state] of jobs) if (state.set) violate(`cleanupWorkspace while job "${id}" is still set up`);
      workspace = "cleaned";
      if (options.failCleanupWorkspace !== undefined) throw new GantryError("EXECUTOR_FAILED", options.failCleanupWorkspace);
    },

    async setupJob(info: JobInfo) {
      record({ method: "setupJob", jobId: info.job.id, attempt: info.attempt });
      notAfterCleanup("setupJob");
      if (workspace !== "ready") violate(`setupJob for job "${info.job.id}" while the workspace is ${workspace}`);
      if (info.job.executor !== name) violate(`setupJob for job "${info.job.id}" of executor "${info.job.executor}"`);
      const state = stateOf(info);
      if (state.set) violate(`setupJob for job "${info.job.id}" twice without cleanupJob`);
      sequential("setupJob", info, state);
      state.set = true;
      state.attempt = info.attempt;
      activeJobs++;
      maxActiveJobs = Math.max(maxActiveJobs, activeJobs);
      fileSystems.set(info.job.id, new Map());
      const fail = info.job.env.FAKE_FAIL_SETUP_JOB;
      if (fail !== undefined) {
        const failed = setupFailures.get(info.job.id) ?? 0;
        setupFailures.set(info.job.id, failed + 1);
        if (fail === "always" || failed < Number(fail))
          throw new GantryError("EXECUTOR_FAILED", `fake: setupJob of "${info.job.id}" failed`, { retryable: true });
      }
    },

    async exec(info: JobInfo, req: ExecRequest, io: ExecIO) {
      const call: Omit<FakeCall, "seq"> = { method: "exec", jobId: info.job.id, attempt: info.attempt, env: req.env };
      record({
        ...call,
        ...(req.script !== undefined ? { script: req.script } : {}),
        ...(req.argv ? { argv: req.argv } : {}),
        ...(req.cwd ? { cwd: req.cwd } : {}),
      });
      const state = checkJob("exec", info);
      if (state.others > 0) violate(`exec for job "${info.job.id}" while another call for that job is running`);
      if ((req.script === undefined) === (req.argv === undefined)) violate("exec needs exactly one of script and argv");
      return tracked(state, true, () => interpret(info, req, io));
    },

    async readFiles(info: JobInfo, path: string) {
      record({ method: "readFiles", jobId: info.job.id, attempt: info.attempt, path });
      const state = checkJob("readFiles", info);
      sequential("readFiles", info, state);
      return tracked(state, false, async () => {
        const root = normal(path);
        const entries: Array<{ path: string; data: string }> = [];
        for (const [file, data] of filesOf(info.job.id)) {
          if (root === "." || file === root || file.startsWith(`${root}/`)) {
            // a directory gives its contents; a single file is the entry "." (like `tar -C path -cf - .`)
            const relative = root === "." ? file : file === root ? "." : file.slice(root.length + 1);
            entries.push({ path: relative, data: data.toString("base64") });
          }
        }
        if (entries.length === 0) throw new GantryError("ARTIFACT_INVALID", `path "${path}" does not exist in the job directory`);
        entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
        const archive: Archive = { fake: 1, entries };
        return Readable.from([Buffer.from(JSON.stringify(archive))]);
      });
    },

    async writeFiles(info: JobInfo, path: string, tar) {
      record({ method: "writeFiles", jobId: info.job.id, attempt: info.attempt, path });
      const state = checkJob("writeFiles", info);
      sequential("writeFiles", info, state);
      await tracked(state, false, async () => {
        const root = normal(path);
        const chunks: Buffer[] = [];
        for await (const chunk of tar) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
        let archive: Archive;
        try {
          archive = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Archive;
          if (archive.fake !== 1 || !Array.isArray(archive.entries)) throw new Error("not a fake archive");
        } catch (error) {
          throw new GantryError("ARTIFACT_INVALID", `fake: writeFiles got something that is not a fake archive`, { cause: error });
        }
        const files = filesOf(info.job.id);
        for (const entry of archive.entries) {
          const target = entry.path === "." ? root : normal(posix.join(root, normal(entry.path)));
          files.set(target, Buffer.from(entry.data, "base64"));
        }
      });
    },

    async cleanupJob(info: JobInfo) {
      record({ method: "cleanupJob", jobId: info.job.id, attempt: info.attempt });
      notAfterCleanup("cleanupJob");
      if (info.signal.aborted) violate(`cleanupJob for job "${info.job.id}" got an already aborted signal`);
      const state = stateOf(info);
      sequential("cleanupJob", info, state);
      if (state.set) activeJobs--;
      state.set = false;
    },
  };
  return fake;
}

/** An `executorFor` that builds (once per name) a fake for every executor of a plan, and keeps them for assertions. */
export function fakeExecutors(options: (def: PlanExecutor) => FakeExecutorOptions = () => ({})): {
  readonly executorFor: (def: PlanExecutor) => FakeExecutor;
  readonly executors: ReadonlyMap<string, FakeExecutor>;
  /** Every contract violation of every fake. */
  violations(): string[];
} {
  const executors = new Map<string, FakeExecutor>();
  return {
    executorFor(def) {
      let fake = executors.get(def.name);
      if (!fake) executors.set(def.name, (fake = createFakeExecutor({ kind: def.kind, ...options(def), name: def.name })));
      return fake;
    },
    executors,
    violations: () => [...executors.values()].flatMap((f) => f.violations),
  };
}
