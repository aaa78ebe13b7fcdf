// SSH executor benchmark, side by side with raw ssh2 in the same run:
//   per-step overhead of a 100-step job in shared mode (100 `exec` calls of
//   the script `true` on one connection) vs 100 raw ssh2 `exec("true")`
//   calls on one connection to the same server. Target: <= 1.2x.
// Starts its own sshd on a loopback port (like the tests); "not measured"
// when /usr/sbin/sshd is missing (scripts/provision-sshd.sh installs it).
// Run alone: `npm run build && node bench/ssh.mjs`.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ssh2 from "ssh2";
import { makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo } from "../dist/executors/conformance.js";
import { createSshExecutor } from "../dist/executors/ssh/index.js";

const STEPS = 100;
const ROUNDS = 5;
const SSHD = "/usr/sbin/sshd";
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function keygen(file) {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

async function startSshd(dir) {
  keygen(join(dir, "host"));
  keygen(join(dir, "user"));
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "user.pub")));
  const port = await freePort();
  const config = join(dir, "sshd.conf");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "LogLevel INFO",
      "",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true });
  const child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`sshd did not start: ${log}`)), 10_000);
    child.stderr.on("data", (c) => {
      log += c;
      if (log.includes("Server listening")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`sshd exited ${code}: ${log}`)));
  });
  const pub = readFileSync(join(dir, "host.pub"), "utf8").trim().split(" ");
  writeFileSync(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}\n`);
  return { port, child, key: join(dir, "user"), knownHosts: join(dir, "known_hosts") };
}

function rawConnect(port, key) {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client
      .on("ready", () => {
        client.setNoDelay(true); // as the executor does: the baseline gets the same tuning
        resolve(client);
      })
      .on("error", reject);
    client.connect({ host: "127.0.0.1", port, username: userInfo().username, privateKey: readFileSync(key) });
  });
}

function rawExec(client) {
  return new Promise((resolve, reject) => {
    client.exec("true", (err, channel) => {
      if (err) return reject(err);
      let code;
      channel.on("data", () => {});
      channel.stderr.on("data", () => {});
      channel.on("exit", (c) => (code = c));
      channel.on("close", () => (code === 0 ? resolve() : reject(new Error(`raw exec exited ${code}`))));
    });
  });
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function benchmarks() {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is not installed (scripts/provision-sshd.sh)`);
  const dir = mkdtempSync(join(tmpdir(), "gantry-bench-ssh-"));
  const server = await startSshd(dir);
  const client = await rawConnect(server.port, server.key);
  const def = makePlanExecutor({
    name: "bench-ssh",
    kind: "ssh",
    options: {
      host: `127.0.0.1:${server.port}`,
      identityFile: server.key,
      knownHosts: server.knownHosts,
      mode: "shared",
      copyRepo: false,
      workspaceDir: join(dir, "work"),
      agent: false,
    },
  });
  const executor = createSshExecutor(def);
  const ws = makeWorkspaceInfo(def, ["steps"], { runId: "bench", runDir: dir });
  const job = makeJobInfo(makePlanJob("steps", { executor: def.name }), { runId: "bench", runDir: dir });
  const sink = { stdout() {}, stderr() {} };
  const env = { PATH: "/usr/local/bin:/usr/bin:/bin" };
  try {
    await executor.setupWorkspace(ws);
    await executor.setupJob(job);
    const gantryStep = async () => {
      const r = await executor.exec(job, { script: "true", env, signal: new AbortController().signal }, sink);
      if (r.exitCode !== 0) throw new Error(`step exited ${r.exitCode}`);
    };
    const gantry = [];
    const raw = [];
    // Warm up both, then alternate rounds so drift hits both sides alike.
    for (let i = 0; i < 10; i++) {
      await gantryStep();
      await rawExec(client);
    }
    for (let round = 0; round < ROUNDS; round++) {
      raw.push(
        await timed(async () => {
          for (let i = 0; i < STEPS; i++) await rawExec(client);
        }),
      );
      gantry.push(
        await timed(async () => {
          for (let i = 0; i < STEPS; i++) await gantryStep();
        }),
      );
    }
    await executor.cleanupJob(job);
    return [
      {
        name: `ssh shared: ${STEPS} steps vs ${STEPS} raw ssh2 exec (per step)`,
        gantryMs: median(gantry) / STEPS,
        rawMs: median(raw) / STEPS,
        target: 1.2,
      },
    ];
  } finally {
    await executor.cleanupWorkspace({ ...ws, signal: new AbortController().signal }).catch(() => undefined);
    client.end();
    server.child.kill("SIGTERM");
    await new Promise((r) => (server.child.exitCode === null ? server.child.once("exit", r) : r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [row] = await benchmarks();
  const ratio = row.gantryMs / row.rawMs;
  console.log(
    `${row.name}: gantry ${row.gantryMs.toFixed(2)} ms, raw ${row.rawMs.toFixed(2)} ms, ratio ${ratio.toFixed(2)}x (target <= ${row.target}x)`,
  );
}
