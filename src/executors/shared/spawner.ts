/**
 * The process spawner: a small long-lived process, started on the first
 * exec of a runner process, that forks the steps' processes so that the
 * runner's event loop does not. Node's `spawn` is a synchronous fork + exec
 * of the whole runner (tens to hundreds of MB of page tables to copy, then
 * copy-on-write faults), and with per-job cgroups the runner also moved
 * itself into the job's cgroup and back around each spawn; the spawner
 * (`spawner-program.ts`, Perl, a few MB) forks cheaply, overlaps with the
 * runner's work, and its child moves itself into the job's cgroup before
 * it execs, so the child starts there as before.
 *
 * Output does not pass through the spawner: the runner listens on a unix
 * socket (in a fresh 0700 directory), and each child connects to it for its
 * stdout and stderr (and stdin when it has input) before it execs; the
 * runner reads those connections exactly as it read Node's stdio pipes
 * (which are socket pairs too), pausing them for back-pressure.
 *
 * Lifetime: one spawner per runner process, in its own session; it exits
 * when its stdin closes, and when that happens without a `bye` (the runner
 * died, even by SIGKILL) it first SIGKILLs the process groups it started
 * that still run. The runner still tells its watchdog (`supervisor.ts`)
 * about every process group, as for a direct spawn.
 *
 * Used where it can run: Linux or macOS with `perl` on the PATH (or in
 * /usr/bin), unless `GANTRY_SPAWNER=0`. Everything else, and any request
 * the spawner cannot carry (a NUL byte in an argument), uses Node's
 * `spawn` directly (`process.ts`). If the spawner dies, the processes it
 * was starting fail with a retryable EXECUTOR_FAILED, and later ones are
 * spawned directly.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { SPAWNER_PROGRAM } from "./spawner-program.js";

export interface SpawnerRequest {
  /** Program (looked up in `env.PATH` when it has no `/`) and arguments. */
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The child's complete environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Whether the child gets a stdin connection (`stream("stdin", ...)`); else /dev/null. */
  readonly stdin: boolean;
  /** A cgroup v2 directory the child moves itself into before exec. */
  readonly cgroup?: string;
}

/** What the spawner reports about one request, in this order: `stream`s and `started` (any order), then `exit`; or `failed`; or `lost`. */
export interface SpawnerHandlers {
  /** The program runs, as the leader of its own session and process group `pid`. */
  started(pid: number): void;
  /** One of the child's stdio connections (`stdin` is written to, the others read). */
  stream(kind: "stdout" | "stderr" | "stdin", socket: Socket): void;
  /** It could not be started; `error.code` is the errno name, `error.syscall` the stage (`chdir`, `exec`, ...). */
  failed(error: NodeJS.ErrnoException): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  /** The spawner died: the request's outcome is unknown. */
  lost(error: Error): void;
}

interface Pending {
  readonly handlers: SpawnerHandlers;
  /** Connections still to come: a started child has made them all, but they may be accepted after its exit. */
  streams: number;
  exited: boolean;
}

const HEADER = 12;
const STREAMS = { o: "stdout", e: "stderr", i: "stdin" } as const;
const errnoNames = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
const signalNames = new Map(Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

function findPerl(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/bin", "/bin"];
  for (const dir of dirs) {
    if (!dir.startsWith("/")) continue;
    try {
      accessSync(join(dir, "perl"), fsConstants.X_OK);
      return join(dir, "perl");
    } catch {
      // not here
    }
  }
  return undefined;
}

export class ProcessSpawner {
  private readonly requests = new Map<number, Pending>();
  private nextId = 1;
  private live = 0;
  private lines = "";
  private queued: Buffer[] | undefined = [];
  dead = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly server: Server,
    private readonly dir: string,
  ) {}

  /** Start a spawner (undefined when it cannot run here). */
  static start(): ProcessSpawner | undefined {
    if (process.env.GANTRY_SPAWNER === "0" || (process.platform !== "linux" && process.platform !== "darwin")) return undefined;
    const perl = findPerl();
    if (perl === undefined) return undefined;
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(tmpdir(), "gantry-spawner-"));
      const path = join(dir, "s");
      if (Buffer.byteLength(path) > 100) throw new Error("socket path too long");
      const server = createServer({ pauseOnConnect: false });
      const child = spawn(perl, ["-e", SPAWNER_PROGRAM, path], {
        detached: true,
        stdio: ["pipe", "pipe", "ignore"],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      });
      const spawner = new ProcessSpawner(child, server, dir);
      spawner.wire(path);
      return spawner;
    } catch {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
  }

  private wire(path: string): void {
    const { child, server } = this;
    server.on("connection", (socket) => this.accept(socket));
    server.on("error", (error) => this.die(error));
    server.listen(path, () => {
      const queued = this.queued ?? [];
      this.queued = undefined;
      for (const frame of queued) child.stdin!.write(frame);
    });
    server.unref();
    child.on("error", (error) => this.die(error));
    child.on("exit", () => this.die(new Error("the process spawner exited")));
    child.stdin!.on("error", () => undefined);
    child.stdout!.setEncoding("latin1");
    child.stdout!.on("data", (text: string) => this.onLines(text));
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
  }

  /** Ask for a process; the handlers hear about it (never synchronously). */
  spawn(req: SpawnerRequest, handlers: SpawnerHandlers): void {
    const id = this.nextId++;
    const fields = [String(id), req.cwd, req.cgroup ?? "", req.stdin ? "1" : "", req.file, String(req.args.length), ...req.args];
    for (const key in req.env) fields.push(`${key}=${req.env[key]}`);
    const payload = Buffer.from(fields.join("\0"));
    const frame = Buffer.concat([Buffer.from(`${payload.length}\n`), payload]);
    this.requests.set(id, { handlers, streams: req.stdin ? 3 : 2, exited: false });
    if (this.live++ === 0) (this.child.stdout as unknown as { ref?: () => void }).ref?.();
    if (this.queued) this.queued.push(frame);
    else this.child.stdin!.write(frame);
  }

  /** Whether `req` can go through the spawner (its framing has no room for NUL bytes). */
  static carries(req: SpawnerRequest): boolean {
    const bad = (s: string): boolean => s.includes("\0");
    if (bad(req.file) || bad(req.cwd) || req.args.some(bad)) return false;
    for (const key in req.env) if (bad(key) || bad(req.env[key] as string) || key.includes("=")) return false;
    return true;
  }

  /** At the runner's normal exit: the spawner ends without killing anything. */
  bye(): void {
    if (this.dead) return;
    try {
      this.child.stdin!.write("3\nbye");
    } catch {
      // gone already
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Forget a request (its exit was reported and its connections accepted, or it failed): late connections are closed. */
  private end(id: number): Pending | undefined {
    const pending = this.requests.get(id);
    if (!pending) return undefined;
    this.requests.delete(id);
    if (--this.live === 0) (this.child.stdout as unknown as { unref?: () => void }).unref?.();
    return pending;
  }

  private onLines(text: string): void {
    this.lines += text;
    let nl: number;
    while ((nl = this.lines.indexOf("\n")) >= 0) {
      const [kind, idText, a, b] = this.lines.slice(0, nl).split(" ");
      this.lines = this.lines.slice(nl + 1);
      const id = Number(idText);
      if (kind === "s") {
        this.requests.get(id)?.handlers.started(Number(a));
      } else if (kind === "x") {
        const pending = this.requests.get(id);
        if (!pending) continue;
        pending.exited = true;
        if (pending.streams === 0) this.end(id);
        const code = Number(a);
        pending.handlers.exit(code < 0 ? null : code, code < 0 ? (signalNames.get(Number(b)) ?? "SIGKILL") : null);
      } else if (kind === "f") {
        const errno = Number(b);
        const code = errnoNames.get(errno) ?? `errno ${errno}`;
        const error: NodeJS.ErrnoException = new Error(`${a} failed: ${code}`);
        error.code = code;
        error.errno = -errno;
        error.syscall = a;
        this.end(id)?.handlers.failed(error);
      }
    }
  }

  /** A child's stdio connection: a 12-byte header says whose, and which stream. */
  private accept(socket: Socket): void {
    socket.on("error", () => undefined);
    const onReadable = (): void => {
      const header = socket.read(HEADER) as Buffer | null;
      if (header === null) return;
      socket.off("readable", onReadable);
      const id = Number(header.toString("latin1", 0, 10));
      const pending = this.requests.get(id);
      const kind = STREAMS[header.toString("latin1", 10, 11) as keyof typeof STREAMS];
      if (header.length !== HEADER || pending === undefined || pending.streams === 0 || kind === undefined) {
        socket.destroy();
        return;
      }
      if (--pending.streams === 0 && pending.exited) this.end(id);
      pending.handlers.stream(kind, socket);
    };
    socket.on("readable", onReadable);
  }

  private die(error: Error): void {
    if (this.dead) return;
    this.dead = true;
    if (current === this) {
      current = undefined;
      unavailable = true;
    }
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
    for (const id of [...this.requests.keys()]) this.end(id)?.handlers.lost(error);
  }
}

let current: ProcessSpawner | undefined;
let unavailable = false;

/** The runner process's spawner, started on first use; undefined where it cannot run (use Node's `spawn`). */
export function processSpawner(): ProcessSpawner | undefined {
  if (current && !current.dead) return current;
  if (unavailable) return undefined;
  current = ProcessSpawner.start();
  if (!current) unavailable = true;
  return current;
}

process.once("exit", () => current?.bye());
