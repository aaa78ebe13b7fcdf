/**
 * Crash safety: a child process records a run through the writer and is
 * SIGKILLed mid-run. Reopening the store finds every acknowledged log line,
 * marks the run interrupted (and its running job cancelled) and, on SQLite,
 * passes `PRAGMA integrity_check`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logsCommand } from "../../src/cli/logs.js";
import { openStore } from "../../src/store/open.js";
import { captureIo } from "../support/io.js";
import { bundleFixture } from "./bundle-fixture.js";
import { requireService } from "../support/services.js";
import { dropCreatedSchemas, freshSchemaName, TEST_DATABASE_URL } from "./pg-harness.js";

let childPath = "";
beforeAll(async () => {
  childPath = await bundleFixture("crash-child");
});
afterAll(() => rmSync(childPath, { force: true }));

/** Run the child until it has acknowledged `acks` flushes, SIGKILL it, return the last acknowledged count. */
function runAndKill(args: string[], acks: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [childPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let seen = 0;
    let last = 0;
    let stderr = "";
    let buffer = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^acked (\d+)$/.exec(line);
        if (!m) continue;
        last = Number(m[1]);
        if (++seen === acks) child.kill("SIGKILL");
      }
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL" && seen >= acks) resolvePromise(last);
      else reject(new Error(`child exited with ${code ?? signal} after ${seen} acks: ${stderr}`));
    });
  });
}

async function checkAfterCrash(repoDir: string, url: string | undefined, acked: number): Promise<void> {
  const store = await openStore({ repoDir, ...(url ? { url } : {}) });
  try {
    const run = await store.runs.get("crash-run");
    expect(run?.status).toBe("interrupted");
    expect(run?.finishedAt).not.toBeNull();
    const [job] = await store.jobs.list("crash-run");
    expect(job?.status).toBe("cancelled");
    expect(job?.reason).toMatch(/^interrupted/);
    expect((await store.jobs.steps("crash-run"))[0]?.status).toBe("cancelled");
    const chunks = await store.logs.read({ runId: "crash-run", limit: 100_000 });
    const lines = chunks.flatMap((c) => c.lines.map((l) => l.line));
    expect(lines.length).toBeGreaterThanOrEqual(acked);
    // Every acknowledged line, in order, with no gaps; sequence numbers without gaps.
    expect(lines.slice(0, acked)).toEqual(Array.from({ length: acked }, (_, i) => `line ${i}`));
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i + 1));
  } finally {
    await store.close();
  }
}

describe("crash safety", () => {
  it("sqlite: acknowledged logs survive SIGKILL, the run is marked interrupted, the file is intact", async () => {
    const repoDir = mkdtempSync(join(tmpdir(), "gantry-crash-"));
    try {
      const acked = await runAndKill([repoDir], 25);
      expect(acked).toBeGreaterThan(0);
      await checkAfterCrash(repoDir, undefined, acked);
      const db = new Database(join(repoDir, ".gantry", "state", "gantry.db"), { readonly: true });
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      db.close();
    } finally {
      rmSync(repoDir, { recursive: true, force: true });
    }
  });

  it("postgres: acknowledged logs survive SIGKILL and the run is marked interrupted", async (ctx) => {
    const missing = await requireService("postgres", "the postgres crash test");
    ctx.skip(missing !== undefined, missing);
    const repoDir = mkdtempSync(join(tmpdir(), "gantry-crash-"));
    const url = `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes("?") ? "&" : "?"}schema=${freshSchemaName("gantry_crash")}`;
    try {
      const acked = await runAndKill([repoDir, url], 25);
      await checkAfterCrash(repoDir, url, acked);
    } finally {
      rmSync(repoDir, { recursive: true, force: true });
      await dropCreatedSchemas();
    }
  });

  it("gantry logs -f ends with a message when the run's process is SIGKILLed (issue 11.7)", async () => {
    const repoDir = mkdtempSync(join(tmpdir(), "gantry-crash-"));
    const child = spawn(process.execPath, [childPath, repoDir], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => d.toString().includes("acked") && resolve());
        child.on("exit", (code) => reject(new Error(`child exited with ${code}`)));
      });
      const io = captureIo();
      const following = logsCommand({ dir: repoDir, run: "crash-run", follow: true, timestamps: false }, io, { pollMs: 20 });
      // Kill only once the command follows a running run (else it may open the store after the kill and find it interrupted).
      for (let i = 0; i < 3000 && !io.stdout().includes("line 0"); i++) await new Promise((r) => setTimeout(r, 10));
      child.kill("SIGKILL");
      expect(await following).toBe(1);
      expect(io.stdout()).toContain("line 0");
      expect(io.stderr()).toMatch(/the process running crash-run \(pid \d+ on .*\) is gone; the run is marked interrupted/);
      const store = await openStore({ repoDir });
      expect((await store.runs.get("crash-run"))?.status).toBe("interrupted");
      await store.close();
    } finally {
      child.kill("SIGKILL");
      rmSync(repoDir, { recursive: true, force: true });
    }
  });
});
