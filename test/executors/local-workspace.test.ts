/**
 * Run directories of the local executor on a shared machine: created like
 * mkdtemp (a fresh name, mode 0700), under a `gantry-<uid>` parent that is
 * refused when another user owns it, when others may write to it without
 * the sticky bit, or when it is not a directory.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeJobInfo, makePlanExecutor, makeWorkspaceInfo } from "gantry/testing";
import { createLocalExecutor } from "../../src/executors/local/index.js";
import { requireService } from "../support/services.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function base(): string {
  const dir = mkdtempSync(join(tmpdir(), "gantry-ws-perm-"));
  dirs.push(dir);
  return dir;
}

const uid = process.getuid?.() ?? 0;
const def = makePlanExecutor({ name: "local", options: { copyRepo: false } });

/** Set up a workspace and one job; returns the job directory, or the error. */
async function setUp(baseDir: string, runId = "perm-run"): Promise<{ dir?: string; error?: Error; cleanup: () => Promise<void> }> {
  const executor = createLocalExecutor(def, { baseDir });
  const ws = makeWorkspaceInfo(def, [], { runId });
  const job = makeJobInfo("job", { runId });
  const cleanup = async (): Promise<void> => {
    await executor.cleanupJob(job);
    await executor.cleanupWorkspace(ws);
  };
  try {
    await executor.setupWorkspace(ws);
    await executor.setupJob(job);
    return { dir: executor.localJobDir(job), cleanup };
  } catch (error) {
    return { error: error as Error, cleanup };
  }
}

describe("local run directories", () => {
  it("are fresh and private: mode 0700, a new name for every run, also for the same run id", async () => {
    const b = base();
    const runDir = (jobDir: string): string => dirname(dirname(dirname(jobDir)));
    const first = await setUp(b);
    await first.cleanup();
    const second = await setUp(b);
    try {
      expect(first.error).toBeUndefined();
      expect(second.error).toBeUndefined();
      expect(statSync(join(b, `gantry-${uid}`)).mode & 0o777).toBe(0o700);
      expect(statSync(runDir(second.dir!)).mode & 0o777).toBe(0o700);
      expect(runDir(second.dir!)).toMatch(new RegExp(`/gantry-${uid}/perm-run\\.[A-Za-z0-9]{6}$`));
      expect(runDir(first.dir!)).not.toBe(runDir(second.dir!));
    } finally {
      await second.cleanup();
    }
  });

  it("refuse a parent writable by others without the sticky bit, and accept one with it", async () => {
    const b = base();
    mkdirSync(join(b, `gantry-${uid}`), { mode: 0o700 });
    chmodSync(join(b, `gantry-${uid}`), 0o777);
    const open = await setUp(b);
    await open.cleanup();
    expect(open.error?.message).toMatch(new RegExp(`gantry-${uid} is writable by other users \\(mode 777\\) without the sticky bit`));
    chmodSync(join(b, `gantry-${uid}`), 0o1777);
    const sticky = await setUp(b);
    await sticky.cleanup();
    expect(sticky.error).toBeUndefined();
  });

  it("refuse a parent that is a symlink", async () => {
    const b = base();
    const elsewhere = base();
    symlinkSync(elsewhere, join(b, `gantry-${uid}`));
    const linked = await setUp(b);
    await linked.cleanup();
    expect(linked.error?.message).toContain("is not a directory (a symlink or file is in the way)");
  });
});

const notRoot = await requireService("root", "a run directory parent owned by nobody");

describe.skipIf(notRoot)("local run directories (as root)", () => {
  it("refuse a parent owned by another user (nobody)", async () => {
    const b = base();
    const parent = join(b, `gantry-${uid}`);
    mkdirSync(parent, { mode: 0o700 });
    chownSync(parent, 65534, 65534);
    const owned = await setUp(b);
    await owned.cleanup();
    expect(owned.error?.message).toMatch(new RegExp(`gantry-${uid} belongs to another user \\(uid 65534, you are uid 0\\)`));
    expect(owned.error?.message).toContain("set TMPDIR");
  });
});
