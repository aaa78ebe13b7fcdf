/**
 * One process in a container: `exec` create + start (attached, output
 * demultiplexed) + inspect for the exit code, under the wrapper of
 * `convert.ts` so the whole process tree can be ended. On abort a second
 * exec sends SIGTERM to the recorded process group, then SIGKILL after the
 * grace period; the first exec then ends and its result carries
 * `cancelled` or `timedOut` (from `signal.reason`).
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type Docker from "dockerode";
import tarStream from "tar-stream";
import { GantryError } from "../../core/errors.js";
import type { ExecIO, ExecResult } from "../../core/executor.js";
import { abortOutcome } from "../../core/abort.js";
import { CONTROL_DIR, toExecOptions, toKillOptions } from "./convert.js";
import { apiMessage } from "./engine.js";
import { pauseFor } from "../shared/backpressure.js";

/**
 * Splits Docker's multiplexed attach stream (8-byte headers: stream type,
 * three zero bytes, big-endian payload size) into stdout and stderr. Frames
 * may arrive split across chunks in any way.
 */
export class Demuxer {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onStdout: (chunk: Buffer) => void,
    private readonly onStderr: (chunk: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 8) {
      const type = this.buffer[0];
      const size = this.buffer.readUInt32BE(4);
      if (this.buffer.length < 8 + size) return;
      const payload = this.buffer.subarray(8, 8 + size);
      this.buffer = this.buffer.subarray(8 + size);
      if (payload.length === 0) continue;
      if (type === 2) this.onStderr(Buffer.from(payload));
      else this.onStdout(Buffer.from(payload)); // 0 (stdin echo) and 1
    }
  }

  /** Bytes of an incomplete frame left at the end (should be 0 when the stream ended cleanly). */
  get pending(): number {
    return this.buffer.length;
  }
}

export interface ContainerExecRequest {
  readonly script?: string;
  readonly argv?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir: string;
  readonly signal: AbortSignal;
  readonly killGraceMs: number;
  readonly stdin?: string | Uint8Array;
  readonly user?: string;
}

function newExecId(): string {
  return `x${Date.now().toString(36)}${randomBytes(6).toString("hex")}`;
}

/** Upload bytes as a file in the control directory (stdin of an exec). */
async function uploadStdin(container: Docker.Container, name: string, data: string | Uint8Array, signal: AbortSignal): Promise<string> {
  const pack = tarStream.pack();
  const body = typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  pack.entry({ name, mode: 0o644, type: "file" }, body);
  pack.finalize();
  await container.putArchive(Readable.from(pack, { objectMode: false }), { path: CONTROL_DIR, abortSignal: signal });
  return `${CONTROL_DIR}/${name}`;
}

/** Run one exec to completion and collect its output (for the executor's own helper scripts). */
export async function execCollect(
  container: Docker.Container,
  options: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const exec = await container.exec({ ...options, AttachStdout: true, AttachStderr: true, ...(signal ? { abortSignal: signal } : {}) });
  const stream = (await exec.start({ hijack: true, stdin: false, ...(signal ? { abortSignal: signal } : {}) })) as unknown as Readable;
  const demux = new Demuxer(
    (c) => out.push(c),
    (c) => err.push(c),
  );
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (c: Buffer) => demux.push(c));
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  const exitCode = await exitCodeOf(exec);
  return { exitCode, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

/** The exit code from exec inspect; waits briefly for engines that report the end a moment after the stream closes. */
async function exitCodeOf(exec: Docker.Exec): Promise<number | null> {
  for (let i = 0; ; i++) {
    const info = await exec.inspect();
    if (!info.Running || i >= 100) return info.ExitCode ?? null;
    await new Promise((r) => setTimeout(r, Math.min(5 * (i + 1), 50)));
  }
}

function signalName(code: number | null): string | null {
  if (code === null || code <= 128 || code > 128 + 64) return null;
  const names: Record<number, string> = {
    1: "SIGHUP",
    2: "SIGINT",
    3: "SIGQUIT",
    6: "SIGABRT",
    9: "SIGKILL",
    13: "SIGPIPE",
    14: "SIGALRM",
    15: "SIGTERM",
  };
  return names[code - 128] ?? null;
}

/**
 * Run a process in `container` under the wrapper. Resolves with the result
 * (a non-zero exit is a result); rejects only when the engine fails.
 */
export async function runInContainer(container: Docker.Container, req: ContainerExecRequest, io: ExecIO): Promise<ExecResult> {
  if (req.signal.aborted) return { exitCode: null, signal: null, ...abortOutcome(req.signal) };
  const execId = newExecId();
  let outcome = { timedOut: false, cancelled: false };
  try {
    const stdinPath = req.stdin !== undefined ? await uploadStdin(container, `${execId}.stdin`, req.stdin, req.signal) : undefined;
    if (req.signal.aborted) return { exitCode: null, signal: null, ...abortOutcome(req.signal) };
    const options = toExecOptions({
      execId,
      ...(req.script !== undefined ? { script: req.script } : {}),
      ...(req.argv !== undefined ? { argv: req.argv } : {}),
      env: req.env,
      workingDir: req.workingDir,
      graceMs: req.killGraceMs,
      ...(stdinPath !== undefined ? { stdinPath } : {}),
      ...(req.user !== undefined ? { user: req.user } : {}),
    });
    const exec = await container.exec(options);
    if (req.signal.aborted) return { exitCode: null, signal: null, ...abortOutcome(req.signal) };
    const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Readable;
    const demux = new Demuxer(
      (c) => pauseFor(stream, io.stdout(c)),
      (c) => pauseFor(stream, io.stderr(c)),
    );
    let killing: Promise<unknown> | undefined;
    const onAbort = (): void => {
      outcome = abortOutcome(req.signal);
      killing ??= execCollect(container, toKillOptions(execId, req.killGraceMs)).catch(() => undefined);
    };
    req.signal.addEventListener("abort", onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        stream.on("data", (c: Buffer) => demux.push(c));
        stream.on("end", resolve);
        stream.on("close", resolve);
        stream.on("error", reject);
      });
    } finally {
      req.signal.removeEventListener("abort", onAbort);
    }
    await killing;
    const exitCode = await exitCodeOf(exec);
    return { exitCode, signal: signalName(exitCode), ...outcome };
  } catch (error) {
    if (error instanceof GantryError) throw error;
    if (req.signal.aborted && (error as { name?: string }).name === "AbortError") {
      return { exitCode: null, signal: null, ...abortOutcome(req.signal) };
    }
    throw new GantryError("EXECUTOR_FAILED", `exec in container ${container.id.slice(0, 12)} failed: ${apiMessage(error)}`, {
      cause: error,
      retryable: true,
    });
  }
}
