/**
 * A throw-away PostgreSQL server owned by one test file, for outage tests:
 * `initdb` into a temp directory, `pg_ctl start/stop` on a loopback port of
 * its own (54330-54339 unless GANTRY_TEST_PG_PORTS says otherwise), removed
 * at the end. Nothing system-wide is started or stopped. As root, the server
 * runs as the `postgres` user (PostgreSQL refuses root).
 */
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

function binDir(): string | undefined {
  for (const version of ["17", "16", "15", "14"]) {
    const dir = `/usr/lib/postgresql/${version}/bin`;
    if (existsSync(join(dir, "pg_ctl"))) return dir;
  }
  return undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

export interface PgCluster {
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

/** Why a private cluster cannot be made here, or undefined. */
export function pgClusterUnavailable(): string | undefined {
  if (!binDir()) return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl)";
  if (process.getuid?.() === 0 && !existsSync("/usr/sbin/runuser") && !existsSync("/sbin/runuser")) return "root without runuser";
  return undefined;
}

export async function createPgCluster(): Promise<PgCluster> {
  const bin = binDir();
  if (!bin) throw new Error("no PostgreSQL server binaries");
  const [from, to] = (process.env.GANTRY_TEST_PG_PORTS ?? "54330-54339").split("-").map(Number);
  let port = 0;
  for (let p = from ?? 54330; p <= (to ?? 54339); p++) {
    if (await portFree(p)) {
      port = p;
      break;
    }
  }
  if (port === 0) throw new Error(`no free port in ${from}-${to} for a private PostgreSQL`);
  const dir = mkdtempSync(join(tmpdir(), "gantry-pg-"));
  const data = join(dir, "data");
  const root = process.getuid?.() === 0;
  const as = async (cmd: string, args: string[]): Promise<void> => {
    if (root) await run("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args]);
    else await run(join(bin, cmd), args);
  };
  if (root)
    chownSync(
      dir,
      Number((await run("id", ["-u", "postgres"])).stdout.trim()),
      Number((await run("id", ["-g", "postgres"])).stdout.trim()),
    );
  await as("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  let running = false;
  const stop = async (): Promise<void> => {
    await as("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "30", "stop"]);
    running = false;
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await as("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "-t", "30", "start"]);
      running = true;
    },
    stop,
    async remove() {
      if (running) await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
