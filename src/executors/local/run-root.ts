/**
 * The local executor's scratch directories, safe on a shared machine:
 *
 *   <base>/gantry-<uid>/                       mode 0700, this user's; refused when another user owns
 *                                              it, or when others may write to it without the sticky bit
 *   <base>/gantry-<uid>/<run>.XXXXXX/          one per run, created with mkdtemp (fresh, 0700)
 *   <base>/gantry-<uid>/<run>.XXXXXX/owner     the runner's pid and start time, for `pruneDeadRuns`
 *
 * Executors of one run in one process share its directory (`acquireRunRoot`
 * counts users; the last `releaseRunRoot` removes it). A directory whose
 * owner process is gone (SIGKILL, power loss) is removed by `pruneDeadRuns`,
 * which `gantry run` and `gantry doctor --prune` call.
 */
import { mkdir, mkdtemp, readdir, readFile, writeFile, lstat } from "node:fs/promises";
import { basename, join } from "node:path";
import { GantryError } from "../../core/errors.js";
import { removeCgroupGroup, removeEmptyCgroupGroups } from "../shared/cgroup.js";
import { killByEnv } from "../shared/sweep.js";
import { processAlive, processStartTime } from "../shared/process.js";
import { safeSegment } from "../shared/names.js";
import { removeTree } from "./remove.js";

const roots = new Map<string, { dir: Promise<string>; users: number }>();

/** `<base>/gantry-<uid>` (`<base>/gantry` where there are no user ids). */
export function scratchParent(baseDir: string): string {
  const uid = process.getuid?.();
  return join(baseDir, uid === undefined ? "gantry" : `gantry-${uid}`);
}

/** Create the scratch parent (0700) or check that an existing one is safe to use. */
export async function safeParent(baseDir: string): Promise<string> {
  const dir = scratchParent(baseDir);
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return mkdir(dir, { recursive: true, mode: 0o700 });
    if (error.code !== "EEXIST") throw error;
    return undefined;
  });
  const info = await lstat(dir);
  const uid = process.getuid?.();
  const fix = `remove it, or set TMPDIR (or the local executor's baseDir) to a directory of your own`;
  if (!info.isDirectory()) {
    throw new GantryError("EXECUTOR_FAILED", `${dir} is not a directory (a symlink or file is in the way): ${fix}`);
  }
  if (uid !== undefined && info.uid !== uid) {
    throw new GantryError(
      "EXECUTOR_FAILED",
      `${dir} belongs to another user (uid ${info.uid}, you are uid ${uid}), who could read or replace your jobs' files: ${fix}`,
    );
  }
  if ((info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0) {
    throw new GantryError(
      "EXECUTOR_FAILED",
      `${dir} is writable by other users (mode ${(info.mode & 0o7777).toString(8)}) without the sticky bit: ${fix}`,
    );
  }
  return dir;
}

/** The run's directory (created on first use, with mkdtemp semantics); count one more user. */
export function acquireRunRoot(baseDir: string, runId: string): Promise<string> {
  const key = `${baseDir}\0${runId}`;
  let entry = roots.get(key);
  if (!entry) {
    const dir = (async () => {
      const parent = await safeParent(baseDir);
      const root = await mkdtemp(join(parent, `${safeSegment(runId)}.`));
      await writeFile(join(root, "owner"), `${process.pid} ${processStartTime(process.pid)} ${runId}\n`);
      return root;
    })();
    entry = { dir, users: 0 };
    roots.set(key, entry);
    dir.catch(() => {
      if (roots.get(key) === entry) roots.delete(key);
    });
  }
  entry.users++;
  return entry.dir;
}

/** One user fewer; the last one removes the run's directory and returns its path. */
export async function releaseRunRoot(baseDir: string, runId: string): Promise<string | undefined> {
  const key = `${baseDir}\0${runId}`;
  const entry = roots.get(key);
  if (!entry) return undefined;
  entry.users--;
  if (entry.users > 0) return undefined;
  roots.delete(key);
  const dir = await entry.dir.catch(() => undefined);
  if (dir !== undefined) await removeTree(dir);
  return dir;
}

export interface DeadRun {
  readonly runId: string;
  readonly dir: string;
  readonly pid: number;
}

/** Whether the process `pid` that started at `started` (clock ticks, "" unknown) is gone. */
function ownerGone(pid: number, started: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (!processAlive(pid)) return true;
  const now = processStartTime(pid);
  return started !== "" && now !== "" && now !== started;
}

/** Run directories under `baseDir` whose owner process is gone. */
export async function findDeadRuns(baseDir: string): Promise<DeadRun[]> {
  const parent = scratchParent(baseDir);
  const names = await readdir(parent).catch(() => [] as string[]);
  const dead: DeadRun[] = [];
  for (const name of names) {
    const dir = join(parent, name);
    const text = await readFile(join(dir, "owner"), "utf8").catch(() => undefined);
    if (text === undefined) continue; // not ours, or still being created
    const [pid = "", started = "", ...rest] = text.trim().split(" ");
    if (ownerGone(Number(pid), started)) dead.push({ runId: rest.join(" "), dir, pid: Number(pid) });
  }
  return dead;
}

export interface PrunedRun extends DeadRun {
  /** Processes of the run found by their environment and killed (those in its cgroups are not counted). */
  readonly killed: number;
}

/**
 * Clean up after runs whose owner died (SIGKILL, a crash, power loss): kill
 * what is left of their processes (their cgroups, and every process whose
 * environment says `GANTRY_RUN_ID=<run>`), then remove their directories.
 * Runs of live processes are never touched.
 */
export async function pruneDeadRuns(baseDir: string): Promise<PrunedRun[]> {
  const pruned: PrunedRun[] = [];
  for (const run of await findDeadRuns(baseDir)) {
    await removeCgroupGroup(basename(run.dir));
    const killed = run.runId === "" ? 0 : await killByEnv("GANTRY_RUN_ID", run.runId);
    await removeTree(run.dir);
    pruned.push({ ...run, killed });
  }
  await removeEmptyCgroupGroups();
  return pruned;
}
