/**
 * Child processes run as process trees: each child gets its own process
 * group (`detached: true`), so one signal to the group reaches everything it
 * started. Like a step of GitHub Actions, nothing outlives the process:
 * when the main process exits, whatever it left running in its group
 * (`sleep 1000 &`) is sent SIGTERM, then SIGKILL after the grace period.
 * On abort the group gets SIGTERM at once and SIGKILL after the grace period.
 */
import { spawn } from "node:child_process";
import { accessSync, existsSync, constants as fsConstants, readdirSync, readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { delimiter, join } from "node:path";
import { GantryError } from "../../core/errors.js";
import type { ExecResult } from "../../core/executor.js";
import { abortOutcome } from "../../core/abort.js";
import { pauseFor } from "./backpressure.js";
import { plainCommand } from "./plain-command.js";
import { ProcessSpawner, processSpawner } from "./spawner.js";
import type { SpawnerHandlers } from "./spawner.js";

export const DEFAULT_KILL_GRACE_MS = 10_000;
/** How long to wait for the output pipes to close once the process group is gone (escaped daemons may hold them). */
const PIPE_DRAIN_MS = 1_000;

export interface Shell {
  readonly kind: "bash" | "sh";
  /** Absolute path, so a job's PATH cannot change which shell runs the script. */
  readonly path: string;
}

let cachedShell: Shell | undefined;

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/bin", "/usr/bin", "/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The shell for scripts: bash when present, else sh. Looked up once per process. */
export function findShell(): Shell {
  if (cachedShell) return cachedShell;
  const bash = findExecutable("bash");
  cachedShell = bash ? { kind: "bash", path: bash } : { kind: "sh", path: findExecutable("sh") ?? "/bin/sh" };
  return cachedShell;
}

/**
 * The program and arguments that run `script`: `bash --noprofile --norc -eo
 * pipefail -c script`, or `sh -e -c script`. `--norc` matters: Node's stdio
 * pipes are sockets, and bash run with a socket on stdin and no `SHLVL`
 * thinks it was started by sshd and sources `~/.bashrc`.
 */
export function shellCommand(script: string, shell: Shell = findShell()): { file: string; args: string[] } {
  return shell.kind === "bash"
    ? { file: shell.path, args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", script] }
    : { file: shell.path, args: ["-e", "-c", script] };
}

export interface SpawnTreeOptions {
  /** A script for the shell (see `shellCommand`)... */
  readonly script?: string;
  /** ...or a program and its arguments, run without a shell (looked up in `env.PATH`). */
  readonly argv?: readonly string[];
  readonly cwd: string;
  /** The complete environment of the child: nothing of the runner's environment is added. */
  readonly env: Readonly<Record<string, string>>;
  readonly stdin?: string | Uint8Array;
  readonly signal: AbortSignal;
  /** When this fires (a second Ctrl-C), the process group gets SIGKILL at once, also during the grace period. */
  readonly force?: AbortSignal;
  /** Time between SIGTERM and SIGKILL (default 10 s). */
  readonly killGraceMs?: number;
  /** A returned promise pauses the stream until it settles (`ExecIO`). */
  readonly onStdout: (chunk: Buffer) => unknown;
  readonly onStderr: (chunk: Buffer) => unknown;
  /** The shell for `script` (default: `findShell()`). */
  readonly shell?: Shell;
  /**
   * Wraps the (synchronous) spawn, e.g. to start the child inside the job's
   * cgroup (`cgroup.ts`). Must call `spawn` exactly once and return its result.
   */
  readonly around?: <T>(spawn: () => T) => T;
  /**
   * Start the process through the runner's long-lived spawner (`spawner.ts`)
   * where it can run, instead of Node's `spawn` on the event loop.
   */
  readonly spawner?: boolean;
  /** The job's cgroup directory: a process started by the spawner moves itself there before exec (`around` is for Node's `spawn`). */
  readonly cgroup?: string;
  /** Told the process group id right after the spawn, and again with `gone: true` once the group is empty. */
  readonly onGroup?: (pgid: number, gone: boolean) => void;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already
  }
}

type RawKill = (pid: number, signal: number) => number;
/** Node's binding behind `process.kill`: returns 0 or a negative errno instead of throwing. */
const rawKill = (process as unknown as { _kill?: RawKill })._kill;
const UV_EPERM = -1;

/**
 * Whether a process or group (negative `pid`) exists, by signal 0. The common
 * answer after a step is "no"; `process.kill` would build and throw an
 * exception for it, so the non-throwing binding is used where it exists.
 */
function signalZero(pid: number): boolean {
  if (rawKill) {
    const errno = rawKill.call(process, pid, 0);
    return errno === 0 || errno === UV_EPERM;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether any live (not zombie) process is left in the group. Orphans are
 * reparented to PID 1, which in some containers never reaps them, so a
 * zombie member must not count as alive.
 */
export function processGroupAlive(pgid: number): boolean {
  if (!signalZero(-pgid)) return false;
  if (process.platform !== "linux") return true;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true;
  }
  return false;
}

/** Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot; "" when unknown. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

/** Whether a single process is alive (a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  if (!signalZero(pid)) return false;
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Whether `env` exports bash functions, which could shadow a program a plain command names. */
function exportsFunctions(env: Readonly<Record<string, string>>): boolean {
  for (const key in env) if (key.startsWith("BASH_FUNC_")) return true;
  return false;
}

/**
 * What runs: a script that is one plain command (`plain-command.ts`) is run
 * without a shell, unless the caller chose a shell explicitly.
 */
function commandFor(options: SpawnTreeOptions): { file: string; args: string[]; viaShell: boolean } {
  if (options.script !== undefined && options.argv !== undefined) {
    throw new GantryError("EXECUTOR_FAILED", "exec request has both `script` and `argv`; give exactly one");
  }
  if (options.script !== undefined) {
    const argv = options.shell === undefined && !exportsFunctions(options.env) ? plainCommand(options.script) : undefined;
    if (argv) return { file: argv[0] as string, args: argv.slice(1), viaShell: false };
    return { ...shellCommand(options.script, options.shell), viaShell: true };
  }
  const [file, ...args] = options.argv ?? [];
  if (file === undefined || file === "") {
    throw new GantryError("EXECUTOR_FAILED", "exec request has neither `script` nor a non-empty `argv`");
  }
  return { file, args, viaShell: false };
}

/** How `spawnTree` hears about the process it started (Node's `spawn`, or the spawner's `SpawnerHandlers`). */
type Launch = (command: { file: string; args: string[] }, options: SpawnTreeOptions, handlers: SpawnerHandlers) => void;

/** Node's `spawn`, on the event loop (with the runner moved into the job's cgroup around it, `around`). */
const launchDirect: Launch = (command, options, handlers) => {
  const start = () =>
    spawn(command.file, command.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      windowsHide: true,
    });
  const child = options.around ? options.around(start) : start();
  if (child.pid !== undefined) handlers.started(child.pid);
  handlers.stream("stdout", child.stdout! as Socket);
  handlers.stream("stderr", child.stderr! as Socket);
  if (child.stdin) handlers.stream("stdin", child.stdin as Socket);
  child.on("error", (error: NodeJS.ErrnoException) => {
    // errors after a successful spawn (e.g. kill failures) are not fatal
    if (child.pid === undefined) handlers.failed(error);
  });
  child.on("exit", (code, signal) => handlers.exit(code, signal));
};

/** The long-lived spawner (`spawner.ts`) when the caller asked for it and it can carry the request; else Node's `spawn`. */
function launcher(command: { file: string; args: string[] }, options: SpawnTreeOptions): Launch {
  if (!options.spawner) return launchDirect;
  const request = {
    file: command.file,
    args: command.args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin !== undefined,
    ...(options.cgroup !== undefined ? { cgroup: options.cgroup } : {}),
  };
  if (!ProcessSpawner.carries(request)) return launchDirect;
  const spawner = processSpawner();
  if (!spawner) return launchDirect;
  return (_command, _options, handlers) => spawner.spawn(request, handlers);
}

/**
 * Run a process tree to completion. Resolves when the main process has
 * exited, its process group is gone and its output has been delivered.
 * A spawn failure of an `argv` program (not found, not executable) resolves
 * with exit code 127/126 and a message on stderr, like a shell would.
 */
export function spawnTree(options: SpawnTreeOptions): Promise<ExecResult> {
  const command = commandFor(options);
  if (options.signal.aborted) {
    return Promise.resolve({ exitCode: null, signal: null, ...abortOutcome(options.signal) });
  }
  const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const launch = launcher(command, options);

  return new Promise<ExecResult>((resolve, reject) => {
    /** The process group, once the process runs (at once for Node's `spawn`, a little later through the spawner). */
    let pgid: number | undefined;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let outcome = { timedOut: false, cancelled: false };
    let termSent = false;
    /** A signal asked for before the process ran: sent when it does. */
    let wanted: "SIGTERM" | "SIGKILL" | undefined;
    const streams: Socket[] = [];
    let open = 2;
    let drained = false;
    const timers = new Set<NodeJS.Timeout>();
    const later = (ms: number, fn: () => void): void => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    };

    const finish = (result: ExecResult | Error): void => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      options.signal.removeEventListener("abort", onAbort);
      options.force?.removeEventListener("abort", onForce);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };

    const terminate = (): void => {
      if (termSent) return;
      if (pgid === undefined) {
        wanted ??= "SIGTERM";
        return;
      }
      const group = pgid;
      termSent = true;
      signalGroup(group, "SIGTERM");
      later(graceMs, () => signalGroup(group, "SIGKILL"));
    };

    function onAbort(): void {
      if (exit === undefined) outcome = abortOutcome(options.signal);
      terminate();
    }

    function onForce(): void {
      if (exit === undefined && !outcome.timedOut) outcome = { timedOut: false, cancelled: true };
      if (pgid === undefined) {
        wanted = "SIGKILL";
        return;
      }
      termSent = true;
      signalGroup(pgid, "SIGKILL");
    }

    const result = (): ExecResult => ({
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
      ...outcome,
    });

    let groupGone = false;
    const maybeFinish = (): void => {
      if (exit !== undefined && open === 0 && groupGone) finish(result());
    };

    const failed = (error: NodeJS.ErrnoException): void => {
      if (pgid !== undefined) return;
      if (error.code === "ENOENT" && (error.syscall === "chdir" || !existsSync(options.cwd))) {
        finish(new GantryError("EXECUTOR_FAILED", `working directory ${options.cwd} does not exist`, { cause: error }));
        return;
      }
      if (!command.viaShell && error.syscall !== "chdir" && (error.code === "ENOENT" || error.code === "EACCES")) {
        options.onStderr(Buffer.from(`gantry: ${command.file}: ${error.code === "ENOENT" ? "command not found" : "permission denied"}\n`));
        finish({ exitCode: error.code === "ENOENT" ? 127 : 126, signal: null, timedOut: false, cancelled: false });
        return;
      }
      finish(new GantryError("EXECUTOR_FAILED", `could not start ${command.file}: ${error.message}`, { cause: error, retryable: true }));
    };

    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      exit = { code, signal };
      if (pgid === undefined) return;
      const group = pgid;
      // Leftovers of the step (background jobs) end with it.
      let wait = 5;
      const poll = (): void => {
        if (processGroupAlive(group)) {
          terminate();
          wait = Math.min(wait * 2, 50);
          later(wait, poll);
          return;
        }
        groupGone = true;
        options.onGroup?.(group, true);
        maybeFinish();
        if (open > 0) {
          // Something that left the group (setsid) still holds our pipes: stop waiting for it.
          later(PIPE_DRAIN_MS, () => {
            drained = true;
            for (const stream of streams) stream.destroy();
            finish(result());
          });
        }
      };
      poll();
    };

    launch(command, options, {
      started(pid) {
        pgid = pid;
        options.onGroup?.(pid, false);
        if (wanted === "SIGKILL") onForce();
        else if (wanted === "SIGTERM") terminate();
      },
      stream(kind, socket) {
        if (kind === "stdin") {
          socket.on("error", () => {
            // EPIPE: the process did not read all of its input; not an error of ours
          });
          socket.end(typeof options.stdin === "string" ? Buffer.from(options.stdin) : (options.stdin ?? Buffer.alloc(0)));
          return;
        }
        if (drained || settled) {
          socket.destroy();
          return;
        }
        streams.push(socket);
        const onChunk = kind === "stdout" ? options.onStdout : options.onStderr;
        socket.on("data", (chunk: Buffer) => pauseFor(socket, onChunk(chunk)));
        socket.on("close", () => {
          open--;
          maybeFinish();
        });
      },
      failed,
      exit: onExit,
      lost(error) {
        if (pgid !== undefined) signalGroup(pgid, "SIGKILL");
        finish(new GantryError("EXECUTOR_FAILED", `lost ${command.file}: ${error.message}`, { cause: error, retryable: true }));
      },
    });

    options.signal.addEventListener("abort", onAbort, { once: true });
    if (options.force?.aborted) onForce();
    else options.force?.addEventListener("abort", onForce, { once: true });
  });
}
