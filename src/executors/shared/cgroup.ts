/**
 * A cgroup per job (Linux, cgroup v2, where this process may create child
 * cgroups: root, or a delegated subtree), so that nothing a job started
 * outlives it: a daemon that left the step's process group with `setsid`
 * is still in the job's cgroup, and `cgroup.kill` ends it at the job's end.
 *
 *   <cgroup v2 mount><this process's cgroup>/gantry-<uid>/<run dir name>/<job>
 *
 * A child is started inside the job's cgroup: through the process spawner
 * (`spawner.ts`), the forked child moves itself there before it execs the
 * program; with Node's `spawn`, the runner moves itself into the job's
 * cgroup, forks, and moves back (`around`; two synchronous writes, 0.2-0.3 ms
 * on a loaded machine, so nothing else runs meanwhile). Without cgroups (`probeCgroups()` undefined), the caller
 * falls back to the environment sweep in `sweep.ts`.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir } from "node:fs/promises";
import { dirname, join } from "node:path";

let probed: { base: string; own: string } | null | undefined;

/** The cgroup v2 mount point, from /proc/self/mountinfo. */
function cgroup2Mount(): string | undefined {
  const info = readFileSync("/proc/self/mountinfo", "utf8");
  for (const line of info.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    if (line.slice(sep + 3).startsWith("cgroup2 ")) return line.split(" ")[4];
  }
  return undefined;
}

/**
 * Where job cgroups go (`<mount><own>/gantry-<uid>`), when this process can
 * create cgroups and move processes into them; undefined otherwise. Probed
 * once per process (`GANTRY_CGROUPS=0` turns cgroups off).
 */
export function probeCgroups(): { readonly base: string; readonly own: string } | undefined {
  if (probed !== undefined) return probed ?? undefined;
  probed = null;
  if (process.platform !== "linux" || process.env.GANTRY_CGROUPS === "0") return undefined;
  try {
    const mount = cgroup2Mount();
    const line = readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .find((l) => l.startsWith("0::"));
    if (mount === undefined || line === undefined) return undefined;
    const own = join(mount, line.slice(3));
    const base = join(own, `gantry-${process.getuid?.() ?? 0}`);
    mkdirSync(base, { recursive: true });
    // Can we move ourselves in and out? (Needs write access to both cgroup.procs files.)
    const probe = join(base, `probe-${process.pid}`);
    mkdirSync(probe, { recursive: true });
    try {
      writeFileSync(join(probe, "cgroup.procs"), String(process.pid));
      writeFileSync(join(own, "cgroup.procs"), String(process.pid));
    } finally {
      rmdirSync(probe);
    }
    probed = { base, own };
  } catch {
    probed = null;
  }
  return probed ?? undefined;
}

export class JobCgroup {
  private constructor(
    readonly path: string,
    private readonly own: string,
  ) {}

  /** A new cgroup `<base>/<group>/<name>`, or undefined without cgroup support (one mkdir in the common case, off the event loop). */
  static async create(group: string, name: string): Promise<JobCgroup | undefined> {
    const probe = probeCgroups();
    if (!probe) return undefined;
    const path = join(probe.base, group, name);
    try {
      await mkdir(path, { recursive: true });
    } catch {
      return undefined;
    }
    return new JobCgroup(path, probe.own);
  }

  /** Run the synchronous `spawn` with this process inside the job's cgroup, so the child starts there. */
  around<T>(spawn: () => T): T {
    const pid = String(process.pid);
    writeFileSync(join(this.path, "cgroup.procs"), pid);
    try {
      return spawn();
    } finally {
      writeFileSync(join(this.own, "cgroup.procs"), pid);
    }
  }

  /** SIGKILL everything in the cgroup, wait until it is empty, and remove it (and its run's cgroup once empty). */
  async destroy(): Promise<void> {
    // The common case, a job whose processes have all ended: the cgroup is empty and goes with one rmdir.
    const removed = await rmdir(this.path).then(
      () => true,
      () => false,
    );
    if (!removed) await killCgroup(this.path);
    await rmdir(dirname(this.path)).catch(() => undefined);
  }
}

function members(path: string): number[] {
  try {
    return readFileSync(join(path, "cgroup.procs"), "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Kill every process in the cgroup `path` and its children, then remove the
 * cgroups (children first). Never kills this process: a cgroup that holds
 * it is left alone. Missing is fine.
 */
export async function killCgroup(path: string): Promise<void> {
  const children = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const child of children) if (child.isDirectory()) await killCgroup(join(path, child.name));
  if (members(path).includes(process.pid)) return;
  try {
    writeFileSync(join(path, "cgroup.kill"), "1");
  } catch {
    // Kernels before 5.14 have no cgroup.kill: signal each member.
    for (const pid of members(path)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  let wait = 1;
  for (let i = 0; i < 40; i++) {
    const events = await readFile(join(path, "cgroup.events"), "utf8").catch(() => "populated 0");
    if (events.includes("populated 0")) break;
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 50);
  }
  await rmdir(path).catch(() => undefined);
}

/** Kill and remove `<base>/<group>` (a run's cgroups), when cgroups are in use. */
export async function removeCgroupGroup(group: string): Promise<void> {
  const probe = probeCgroups();
  if (probe) await killCgroup(join(probe.base, group));
}

/** Remove the empty run cgroups under `<base>` (left by runs that died); populated ones stay. */
export async function removeEmptyCgroupGroups(): Promise<void> {
  const probe = probeCgroups();
  if (!probe) return;
  const entries = await readdir(probe.base, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await rmdir(join(probe.base, entry.name)).catch(() => undefined);
}
