/**
 * Who owns a running run, and whether that process is still alive. A run
 * records the pid, the host name, the machine's boot id and the process's
 * start time; at the next start a run whose owner is gone (same host and
 * another boot, or no such pid, or a pid reused by a younger process) is
 * marked `interrupted`. Runs owned by another host are left alone: only that
 * host (or, later, a lease) can tell.
 */
import { readFileSync } from "node:fs";
import { hostname, uptime } from "node:os";
import type { RunOwner } from "./store.js";

function readBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    // No /proc (macOS, Windows): the boot time, rounded so that clock jitter does not change it.
    return `t${Math.round((Date.now() - uptime() * 1000) / 60_000)}`;
  }
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; "" when unknown. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? "";
  } catch {
    return "";
  }
}

let self: RunOwner | undefined;

export function currentOwner(): RunOwner {
  self ??= { pid: process.pid, host: hostname(), boot: readBootId(), started: processStartTime(process.pid) };
  return self;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the owner may still be running. Unknown (another host) counts as alive. */
export function isOwnerAlive(owner: RunOwner, me: RunOwner = currentOwner()): boolean {
  if (owner.host !== me.host) return true;
  if (owner.boot !== me.boot) return false;
  if (owner.pid === me.pid) return owner.started === me.started;
  if (!pidExists(owner.pid)) return false;
  if (owner.started !== "") {
    const now = processStartTime(owner.pid);
    if (now !== "" && now !== owner.started) return false;
  }
  return true;
}
