/**
 * A real `gantry server` process for tests: spawned on 127.0.0.1 port 0,
 * its URL read from the "listening" log line and the first start's admin
 * token from stdout; stopped by pid.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

const BIN = resolve(import.meta.dirname, "..", "..", "bin", "gantry.js");

export interface ServerProcess {
  readonly url: string;
  /** The admin token printed on the first start (undefined on later starts). */
  readonly adminToken: string | undefined;
  readonly child: ChildProcess;
  /** Everything the process wrote so far. */
  output(): string;
  /** Send a signal and wait for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** `fetch` with the admin token (or `token`). */
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
}

export async function startServerProcess(options: {
  cwd: string;
  args?: readonly string[];
  env?: Record<string, string>;
}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, "server", "--listen", "127.0.0.1:0", ...(options.args ?? [])], {
    cwd: options.cwd,
    env: { ...process.env, GANTRY_DATABASE_URL: "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const check = (): void => {
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/.exec(out);
      if (m) resolveUrl(m[1] as string);
    };
    child.stdout.on("data", check);
    void exited.then((code) => reject(new Error(`gantry server exited (${code}) before listening:\n${out}`)));
  });
  const adminToken = /^\s+(gantry_[A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
  return {
    url,
    adminToken,
    child,
    output: () => out,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.pid) process.kill(child.pid, signal);
      return exited;
    },
    api(path, init = {}) {
      const { token = adminToken, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      return fetch(`${url}${path}`, { ...rest, headers });
    },
  };
}

/** `gantry ARGS` to completion. */
export function gantry(
  cwd: string,
  args: readonly string[],
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, GANTRY_DATABASE_URL: "", ...env },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
