/**
 * Storage failures must not produce a wrong history (issue 11.11), on a
 * PostgreSQL server this file creates on its own port and stops and starts:
 *
 * - stopped for 8 s while a step prints: the run goes on, the writer retries,
 *   and every line is in `gantry logs` once the server is back;
 * - down when the run ends: a non-zero exit and a message naming what was not
 *   recorded and the local copy; the next command (server back) writes the
 *   copy, and the run is `success`, never `interrupted`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, gantry } from "../cli/helpers.js";
import { requireService } from "../support/services.js";
import { createPgCluster, type PgCluster } from "./pg-cluster.js";

const why = await requireService("pg-cluster", "the storage outage tests (a private PostgreSQL)");

/** A repo whose one step prints `tick N` until `<ctl>/stop` exists, then `done N`. */
function tickingRepo(ctl: string): string {
  const repo = mkdtempSync(join(tmpdir(), "gantry-outage-"));
  mkdirSync(join(repo, ".gantry"));
  writeFileSync(
    join(repo, ".gantry", "ci.ts"),
    `import { executors, job, sh, workflow } from "gantry";
export default workflow({
  name: "outage",
  defaults: { executor: executors.local({ copyRepo: false }), timeout: "5m" },
  jobs: {
    tick: job({ steps: [sh\`i=0; while [ ! -f ${join(ctl, "stop")} ]; do echo "tick $i"; i=$((i+1)); sleep 0.05; done; echo "done $i"\`] }),
  },
});
`,
  );
  return repo;
}

interface Live {
  readonly exit: Promise<number | null>;
  stdout: string;
  stderr: string;
  /** Resolves when `text` appears in stdout or stderr. */
  waitFor(text: string | RegExp): Promise<void>;
}

function startRun(repo: string, env: Record<string, string>): Live {
  const child = spawn(process.execPath, [cliPath, "run"], {
    cwd: repo,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const waiters: Array<() => void> = [];
  const live: Live = {
    stdout: "",
    stderr: "",
    exit: new Promise((resolve) => child.on("close", (code) => resolve(code))),
    waitFor(text) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const all = live.stdout + live.stderr;
          if (typeof text === "string" ? all.includes(text) : text.test(all)) {
            resolve();
            return true;
          }
          return false;
        };
        if (check()) return;
        waiters.push(() => void check());
        void live.exit.then(() => {
          if (!check()) reject(new Error(`the run ended before printing ${String(text)}:\n${live.stdout}\n${live.stderr}`));
        });
      });
    },
  };
  const wake = (): void => waiters.forEach((w) => w());
  child.stdout.setEncoding("utf8").on("data", (d: string) => ((live.stdout += d), wake()));
  child.stderr.setEncoding("utf8").on("data", (d: string) => ((live.stderr += d), wake()));
  return live;
}

function ticksIn(text: string): number[] {
  return [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
}

describe.skipIf(why !== undefined)("storage outages (private PostgreSQL)", () => {
  let cluster: PgCluster;
  const dirs: string[] = [];
  beforeAll(async () => {
    cluster = await createPgCluster();
    await cluster.start();
  }, 180_000);
  afterAll(async () => {
    await cluster?.remove();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("the server stopped for 8 s mid-run: the run goes on and every line is recorded", async () => {
    const ctl = mkdtempSync(join(tmpdir(), "gantry-outage-ctl-"));
    const repo = tickingRepo(ctl);
    dirs.push(ctl, repo);
    const url = `${cluster.url}?schema=mid_run`;
    const run = startRun(repo, { GANTRY_DATABASE_URL: url });
    await run.waitFor("tick 10");
    await cluster.stop();
    const down = Date.now();
    await run.waitFor("could not record the run");
    await sleep(Math.max(0, 8000 - (Date.now() - down)));
    await cluster.start();
    await run.waitFor("takes writes again");
    writeFileSync(join(ctl, "stop"), "");
    const code = await run.exit;
    expect(code, run.stderr).toBe(0);
    const last = Number(/done (\d+)/.exec(run.stdout)?.[1]);
    expect(last).toBeGreaterThan(20);

    const logs = await gantry(["logs", "last", "--no-timestamps"], { cwd: repo, env: { GANTRY_DATABASE_URL: url } });
    expect(logs.code, logs.stderr).toBe(0);
    expect(ticksIn(logs.stdout)).toEqual(Array.from({ length: last }, (_, i) => i));
    expect(logs.stdout).toContain(`done ${last}`);
    const runs = await gantry(["runs", "--json"], { cwd: repo, env: { GANTRY_DATABASE_URL: url } });
    expect(JSON.parse(runs.stdout)[0]).toMatchObject({ status: "success" });
  }, 240_000);

  it("the server down when the run ends: exit 1 naming what was not recorded and the local copy; replayed later, never interrupted", async () => {
    const ctl = mkdtempSync(join(tmpdir(), "gantry-outage-ctl-"));
    const repo = tickingRepo(ctl);
    dirs.push(ctl, repo);
    const url = `${cluster.url}?schema=at_end`;
    const run = startRun(repo, { GANTRY_DATABASE_URL: url, GANTRY_STORE_RETRY_SECONDS: "2" });
    await run.waitFor("tick 5");
    await cluster.stop();
    writeFileSync(join(ctl, "stop"), "");
    const code = await run.exit;
    expect(code, run.stderr).toBe(1);
    const message =
      /gantry: the run's record in .* is incomplete: the run's end \(success\), \d+ log lines?.*could not be recorded .*; a copy is in (\S+);/.exec(
        run.stderr,
      );
    expect(message, run.stderr).not.toBeNull();
    const copy = message?.[1] ?? "";
    expect(copy).toContain(join(repo, ".gantry", "state", "pending"));
    expect(existsSync(copy)).toBe(true);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace

    await cluster.start();
    const runs = await gantry(["runs", "--json"], { cwd: repo, env: { GANTRY_DATABASE_URL: url } });
    expect(runs.code, runs.stderr).toBe(0);
    expect(JSON.parse(runs.stdout)[0]).toMatchObject({ status: "success" });
    expect(existsSync(copy)).toBe(false);
    const show = await gantry(["show", "last", "--json"], { cwd: repo, env: { GANTRY_DATABASE_URL: url } });
    expect(show.stdout).not.toContain("interrupted");
    const last = Number(/done (\d+)/.exec(run.stdout)?.[1]);
    const logs = await gantry(["logs", "last", "--no-timestamps"], { cwd: repo, env: { GANTRY_DATABASE_URL: url } });
    expect(ticksIn(logs.stdout)).toEqual(Array.from({ length: last }, (_, i) => i));
  }, 240_000);
});
