/**
 * Real OpenSSH servers for the SSH executor's tests: `sshd -D -e -f CONFIG`
 * on 127.0.0.1 with throw-away host keys and a throw-away user key, run as
 * the current user, stopped by pid. `stop()` kills a server with its whole
 * process tree (every session and what it runs), like a machine that dies.
 *
 * A suite asks for sshd with `requireService("sshd", why)`
 * (test/support/services.ts): skipped with one line when it is not
 * installed, failed under GANTRY_REQUIRE_SERVICES=1 (CI).
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { SSHD } from "./services.js";

export { SSHD };

export interface SshdServer {
  /** Alias in the fixture's ssh config (`server-1`, ...). */
  readonly alias: string;
  readonly host: string;
  readonly port: number;
  /** `[127.0.0.1]:port ssh-ed25519 AAAA...`, the server's known_hosts line. */
  readonly knownHostsLine: string;
  /** SHA256 fingerprint as ssh-keygen prints it. */
  readonly fingerprint: string;
  pid(): number | undefined;
  running(): boolean;
  /** Pids of every process below the listener (sessions and what they run). */
  descendants(): number[];
  /** Kill the server and everything below it at once (SIGKILL), like a machine that dies. */
  kill(): Promise<void>;
  /** Stop the server and its sessions with SIGTERM. */
  stop(): Promise<void>;
  /** Start it again on the same port with the same host key. */
  restart(): Promise<void>;
}

export interface SshdFixture {
  readonly dir: string;
  /** Private key in authorized_keys. */
  readonly userKey: string;
  /** A private key that no server accepts. */
  readonly strangerKey: string;
  /** known_hosts with every server's key. */
  readonly knownHosts: string;
  /** ssh config with one alias per server (HostName, Port, User, IdentityFile). */
  readonly sshConfig: string;
  readonly servers: readonly SshdServer[];
  readonly user: string;
  /** A port nothing listens on. */
  unusedPort(): Promise<number>;
  close(): Promise<void>;
}

export interface SshdFixtureOptions {
  readonly count?: number;
  /** Indexes of servers whose sessions get a PATH without tar. */
  readonly noTar?: readonly number[];
}

function keygen(file: string, comment: string): void {
  const result = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ssh-keygen failed: ${result.stderr}`);
}

function fingerprintOf(pubFile: string): string {
  const out = spawnSync("ssh-keygen", ["-l", "-E", "sha256", "-f", pubFile], { encoding: "utf8" }).stdout;
  return out.split(" ")[1] ?? "";
}

export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** Every process whose ancestry includes `root`. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** A directory of links to every program on the system except tar. */
function pathWithoutTar(dir: string): string {
  const bin = join(dir, "notar-bin");
  if (existsSync(bin)) return bin;
  mkdirSync(bin);
  for (const from of ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    let names: string[];
    try {
      names = readdirSync(from);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name === "tar" || existsSync(join(bin, name))) continue;
      symlinkSync(join(from, name), join(bin, name));
    }
  }
  return bin;
}

function emptyHome(dir: string): string {
  const home = join(dir, "remote-home");
  mkdirSync(home, { recursive: true });
  return home;
}

async function startServer(dir: string, index: number, port: number, noTar: boolean): Promise<SshdServer> {
  const hostKey = join(dir, `host_${index}`);
  if (!existsSync(hostKey)) keygen(hostKey, `host-${index}`);
  const config = join(dir, `sshd_${index}.conf`);
  const lines = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, `sshd_${index}.pid`)}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PermitRootLogin prohibit-password",
    "StrictModes no",
    "UsePAM no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "PrintMotd no",
    "X11Forwarding no",
    "MaxStartups 100:30:200",
    "LogLevel INFO",
    // An empty HOME: the login shell's rc files (bash reads ~/.bashrc for ssh commands) are the machine's
    // business, not the test's; a slow or locked one (pyenv rehash) would hang every session.
    `SetEnv HOME=${emptyHome(dir)}${noTar ? ` PATH=${pathWithoutTar(dir)}` : ""}`,
  ];
  writeFileSync(config, `${lines.join("\n")}\n`);
  const pub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ");
  const knownHostsLine = `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}`;
  const fingerprint = fingerprintOf(`${hostKey}.pub`);

  let child: ChildProcess | undefined;
  const log: string[] = [];
  const launch = async (): Promise<void> => {
    mkdirSync("/run/sshd", { recursive: true });
    const proc = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let buffer = "";
      const timer = setTimeout(() => reject(new Error(`sshd on port ${port} did not start:\n${log.join("\n")}`)), 10_000);
      proc.stderr.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        const parts = buffer.split("\n");
        buffer = parts.pop() ?? "";
        log.push(...parts);
        if (log.length > 200) log.splice(0, log.length - 200);
        if (parts.some((l) => l.includes("Server listening on"))) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd on port ${port} exited with ${code}:\n${log.join("\n")}`));
      });
    });
  };
  const waitExit = async (proc: ChildProcess): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  };
  await launch();

  const server: SshdServer = {
    alias: `server-${index + 1}`,
    host: "127.0.0.1",
    port,
    knownHostsLine,
    fingerprint,
    pid: () => child?.pid,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    descendants: () => (child?.pid === undefined ? [] : descendantsOf(child.pid)),
    async kill() {
      if (!child?.pid || !server.running()) return;
      const proc = child;
      signal(proc.pid!, "SIGSTOP"); // no new sessions while the tree is taken down
      for (const pid of descendantsOf(proc.pid!)) signal(pid, "SIGKILL");
      signal(proc.pid!, "SIGKILL");
      await waitExit(proc);
    },
    async stop() {
      if (!child?.pid || !server.running()) return;
      const proc = child;
      const below = descendantsOf(proc.pid!);
      signal(proc.pid!, "SIGTERM");
      for (const pid of below) signal(pid, "SIGTERM");
      await waitExit(proc);
      for (const pid of descendantsOf(proc.pid!)) signal(pid, "SIGKILL");
    },
    async restart() {
      await server.stop();
      await launch();
    },
  };
  return server;
}

/** Start `count` servers (default 1) and write the keys, known_hosts and ssh config for them. */
export async function startSshdFixture(options: SshdFixtureOptions = {}): Promise<SshdFixture> {
  const dir = await mkdtemp(join(tmpdir(), "gantry-sshd-"));
  const userKey = join(dir, "user_key");
  const strangerKey = join(dir, "stranger_key");
  keygen(userKey, "gantry-test-user");
  keygen(strangerKey, "gantry-test-stranger");
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${userKey}.pub`));
  const user = userInfo().username;
  const servers: SshdServer[] = [];
  try {
    for (let i = 0; i < (options.count ?? 1); i++) {
      servers.push(await startServer(dir, i, await freePort(), options.noTar?.includes(i) ?? false));
    }
  } catch (error) {
    for (const s of servers) await s.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, servers.map((s) => `${s.knownHostsLine}\n`).join(""));
  const sshConfig = join(dir, "ssh_config");
  writeFileSync(
    sshConfig,
    servers.map((s) => `Host ${s.alias}\n  HostName ${s.host}\n  Port ${s.port}\n  User ${user}\n  IdentityFile ${userKey}\n`).join("\n"),
  );
  return {
    dir,
    userKey,
    strangerKey,
    knownHosts,
    sshConfig,
    servers,
    user,
    unusedPort: freePort,
    async close() {
      for (const s of servers) await s.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
