/**
 * The fallback where there are no cgroups: find a job's processes by a
 * variable of their environment, as GitHub's runner does with
 * `RUNNER_TRACKING_ID`. Every process of a local job inherits
 * `GANTRY_JOB_TOKEN` (unique per job attempt) and `GANTRY_RUN_ID`; a daemon
 * that left the step's process group with `setsid` still carries them, so a
 * scan of `/proc/<pid>/environ` at the job's end finds it. A process that
 * clears its environment escapes this sweep (not a cgroup).
 */
import { readdir, readFile } from "node:fs/promises";

/** Pids of this user's processes whose environment has `name=value` (Linux; [] elsewhere). */
export async function processesWithEnv(name: string, value: string): Promise<number[]> {
  if (process.platform !== "linux") return [];
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const entries = await readdir("/proc").catch(() => [] as string[]);
  const found: number[] = [];
  for (const entry of entries) {
    const code = entry.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const env = await readFile(`/proc/${entry}/environ`).catch(() => undefined);
    if (env === undefined || env.length === 0) continue;
    // Prefix with NUL so the first variable matches like the others.
    if (Buffer.concat([Buffer.from([0]), env, Buffer.from([0])]).includes(needle)) found.push(pid);
  }
  return found;
}

/** SIGKILL every process whose environment has `name=value`; returns how many were signalled. */
export async function killByEnv(name: string, value: string): Promise<number> {
  let killed = 0;
  // Twice: a process may fork between the scan and the kill.
  for (let round = 0; round < 2; round++) {
    const pids = await processesWithEnv(name, value);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed++;
      } catch {
        // gone
      }
    }
  }
  return killed;
}
