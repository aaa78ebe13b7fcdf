/**
 * Issue 11.16: `gantry gc` removes what it deleted: the run directories under
 * `.gantry/state/runs/<run>` (and those an older gc left behind), the blobs
 * nothing refers to, and it VACUUMs the SQLite file when that freed a large
 * share of it, reporting the bytes freed. A real CLI process on a real store.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gantry, tempDir } from "../cli/helpers.js";

const workflow = `import { job, sh, workflow } from "gantry";
export default workflow({
  name: "space",
  jobs: {
    build: job({ steps: [sh\`mkdir -p dist && head -c 200000 /dev/urandom > dist/blob.bin && seq 1 20000\`], outputs: { artifacts: { dist: "dist/" } } }),
  },
});
`;

describe("gantry gc gives the space back (issue 11.16)", () => {
  const repo = tempDir("gc-space");
  const state = join(repo, ".gantry", "state");
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it("removes the deleted runs' directories and blobs, old leftover directories, and compacts the database", async () => {
    mkdirSync(join(repo, ".gantry"));
    writeFileSync(join(repo, ".gantry", "ci.ts"), workflow);
    for (let i = 0; i < 2; i++) {
      const r = await gantry(["run", "--log-format", "plain"], { cwd: repo });
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const runDirs = readdirSync(join(state, "runs"));
    expect(runDirs).toHaveLength(2);
    // What an older gc left: a directory of a run no longer in the store, with an old artifacts copy.
    const leftover = join(state, "runs", "20200101-000000-dead");
    mkdirSync(join(leftover, "artifacts"), { recursive: true });
    writeFileSync(join(leftover, "artifacts", `${"a".repeat(64)}.tar`), Buffer.alloc(50_000));
    const old = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(leftover, old, old);
    const dbBefore = statSync(join(state, "gantry.db")).size;

    // The runs are from today: --keep-days 0 deletes them (their blobs are younger than the hour of grace: kept).
    const gc = await gantry(["gc", "--keep-days", "0", "--json"], { cwd: repo });
    expect(gc.code, gc.stdout + gc.stderr).toBe(0);
    const result = JSON.parse(gc.stdout) as {
      runs: number;
      runDirs: number;
      runDirBytes: number;
      database: { before: number; after: number; vacuumed: boolean };
      freed: number;
    };
    expect(result.runs).toBe(2);
    expect(result.runDirs).toBe(3);
    expect(result.runDirBytes).toBeGreaterThan(50_000);
    expect(readdirSync(join(state, "runs"))).toEqual([]);
    expect(existsSync(leftover)).toBe(false);
    expect(result.database.vacuumed).toBe(true);
    expect(result.database.after).toBeLessThan(result.database.before);
    expect(statSync(join(state, "gantry.db")).size).toBeLessThan(dbBefore);
    expect(result.freed).toBeGreaterThanOrEqual(result.runDirBytes + result.database.before - result.database.after);

    const text = await gantry(["gc", "--keep-days", "0"], { cwd: repo });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^deleted 0 runs older than 0 days; removed 0 unreferenced blobs \(0 B\) and 0 run directories \(0 B\); database not compacted/,
    );
  }, 180_000);
});
