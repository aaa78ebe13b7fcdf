/**
 * The runner's watchdog: a small Node process, started once per runner
 * process on the first spawn, that outlives the runner just long enough to
 * clean up after it. The runner tells it, line by line on its stdin, which
 * process groups, cgroups and scratch directories are live (`+g 123`,
 * `-g 123`, `+c /sys/fs/cgroup/...`, `+d /tmp/...`). When that pipe closes
 * without a `bye` — the runner died, even by SIGKILL, which no handler in the
 * runner can catch — the watchdog SIGKILLs the groups, kills the cgroups,
 * removes the directories and exits. A runner that ends normally has cleaned
 * up itself, says `bye`, and the watchdog exits at once.
 *
 * The watchdog has its own process group (a Ctrl-C to the terminal's
 * foreground group does not reach it) and ignores SIGINT and SIGHUP; it does
 * not keep the runner's event loop alive.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import type { Writable } from "node:stream";

/** The watchdog's program (CommonJS, run with `node -e`): no file to find at run time. */
const PROGRAM = String.raw`
const fs = require("fs");
const path = require("path");
const groups = new Set(), cgroups = new Set(), dirs = new Set();
let buffer = "", bye = false;
for (const s of ["SIGINT", "SIGHUP", "SIGPIPE"]) process.on(s, () => {});
function killCgroup(dir) {
  let children = [];
  try { children = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const c of children) if (c.isDirectory()) killCgroup(path.join(dir, c.name));
  try { fs.writeFileSync(path.join(dir, "cgroup.kill"), "1"); } catch {
    try { for (const p of fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n")) if (p) try { process.kill(Number(p), "SIGKILL"); } catch {} } catch {}
  }
}
function rmdirWhenEmpty(dir, tries) {
  let children = [];
  try { children = fs.readdirSync(dir, { withFileTypes: true }); } catch { return true; }
  for (const c of children) if (c.isDirectory()) rmdirWhenEmpty(path.join(dir, c.name), tries);
  try { fs.rmdirSync(dir); return true; } catch { return false; }
}
function cleanup() {
  if (bye) process.exit(0);
  for (const g of groups) try { process.kill(-g, "SIGKILL"); } catch {}
  for (const c of cgroups) killCgroup(c);
  for (const d of dirs) try { fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 }); } catch {}
  let left = [...cgroups, ...new Set([...cgroups].map((c) => path.dirname(c)))], tries = 0;
  const again = () => {
    left = left.filter((c) => !rmdirWhenEmpty(c));
    if (left.length === 0 || ++tries > 100) process.exit(0);
    setTimeout(again, 20);
  };
  again();
}
process.stdin.on("data", (chunk) => {
  buffer += chunk;
  let i;
  while ((i = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    const arg = line.slice(3);
    const set = line[1] === "g" ? groups : line[1] === "c" ? cgroups : dirs;
    if (line === "bye") bye = true;
    else if (line[0] === "+") set.add(line[1] === "g" ? Number(arg) : arg);
    else if (line[0] === "-") set.delete(line[1] === "g" ? Number(arg) : arg);
  }
});
process.stdin.on("end", cleanup);
process.stdin.on("error", cleanup);
`;

export interface Watchdog {
  /** A live process group of a step: killed if the runner dies. `gone: true` once the group is empty. */
  group(pgid: number, gone: boolean): void;
  /** A job's cgroup, killed and removed if the runner dies; `gone: true` once the runner removed it. */
  cgroup(path: string, gone: boolean): void;
  /** A scratch directory, removed if the runner dies; `gone: true` once the runner removed it. */
  dir(path: string, gone: boolean): void;
  /** The watchdog's pid (tests). */
  readonly pid: number | undefined;
}

let current: { child: ChildProcess; stdin: Writable } | undefined;

function start(): { child: ChildProcess; stdin: Writable } | undefined {
  if (current && current.child.exitCode === null && current.child.signalCode === null) return current;
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ["-e", PROGRAM], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
  } catch {
    return undefined;
  }
  const stdin = child.stdin as Writable & { unref?: () => void };
  stdin.on("error", () => {
    // the watchdog is gone: nothing to do but carry on without it
  });
  child.on("error", () => undefined);
  child.unref();
  stdin.unref?.();
  current = { child, stdin };
  return current;
}

function send(line: string): void {
  const w = start();
  w?.stdin.write(`${line}\n`);
}

/** The runner process's watchdog, started on first use. */
export const watchdog: Watchdog = {
  group(pgid, gone) {
    send(`${gone ? "-" : "+"}g ${pgid}`);
  },
  cgroup(path, gone) {
    send(`${gone ? "-" : "+"}c ${path}`);
  },
  dir(path, gone) {
    send(`${gone ? "-" : "+"}d ${path}`);
  },
  get pid() {
    return current?.child.pid;
  },
};

/** At a normal exit: tell the watchdog everything is cleaned up, so it ends without touching anything. */
process.once("exit", () => {
  if (!current) return;
  try {
    current.stdin.write("bye\n");
  } catch {
    // gone already
  }
});
