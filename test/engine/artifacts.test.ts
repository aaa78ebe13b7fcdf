import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventsOf, logLines, makePlan, removeTempDirs, runFake, sharedBlobs, statuses } from "./helpers.js";
import type { JobSpec } from "./helpers.js";

afterAll(removeTempDirs);

describe("artifacts", () => {
  const diamondJobs = {
    a: { steps: ["write dist/app.txt built\nwrite dist/sub/x.txt deep"], outputs: [{ name: "dist", path: "dist" }] },
    b: {
      needs: ["a"],
      inputs: [{ name: "dist", path: "input/dist", from: ["a"] }],
      steps: ["cat input/dist/app.txt\nwrite b.txt from-b"],
      outputs: [{ name: "b-report", path: "b.txt" }],
    },
    c: {
      needs: ["a"],
      inputs: [{ name: "dist", path: "dist", from: ["a"] }],
      steps: ["cat dist/sub/x.txt\nwrite c.txt from-c"],
      outputs: [{ name: "c-report", path: "c.txt" }],
    },
    d: {
      needs: ["b", "c"],
      inputs: [
        { name: "b-report", path: "reports/b", from: ["b"] },
        { name: "c-report", path: "reports/c", from: ["c"] },
      ],
      steps: ["cat reports/b\ncat reports/c"],
    },
  } satisfies Record<string, JobSpec & { steps: string[] }>;
  const diamond = makePlan(diamondJobs);

  it.each([
    ["as written", diamond],
    // b and c run in parallel: whichever finishes first saves first. A slower b makes c save first.
    ["when c finishes before b", makePlan({ ...diamondJobs, b: { ...diamondJobs.b, steps: [`sleep 50\n${diamondJobs.b.steps[0]}`] } })],
  ])("saves outputs content-addressed and restores them into later jobs (%s)", async (_, plan) => {
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toEqual({ a: "success", b: "success", c: "success", d: "success" });
    expect(logLines(h.events, "b")).toEqual(["built"]);
    expect(logLines(h.events, "c")).toEqual(["deep"]);
    expect(logLines(h.events, "d")).toEqual(["from-b", "from-c"]);

    const saved = eventsOf(h.events, "artifact.saved");
    // Only the DAG orders saves: a's before b's and c's; b and c run in parallel, in either order.
    expect(saved.map((e) => `${e.jobId}:${e.name}`)[0]).toBe("a:dist");
    expect(saved.map((e) => `${e.jobId}:${e.name}`).sort()).toEqual(["a:dist", "b:b-report", "c:c-report"]);
    for (const e of saved) {
      const blob = readFileSync(sharedBlobs().pathOf(e.hash));
      expect(createHash("sha256").update(blob).digest("hex")).toBe(e.hash);
      expect(blob.length).toBe(e.size);
    }
    expect(readdirSync(sharedBlobs().dir).filter((f) => f.startsWith(".tmp"))).toEqual([]);
    expect(h.result.artifacts.dist).toMatchObject({ jobId: "a", hash: saved[0]!.hash, size: saved[0]!.size });
    expect(
      eventsOf(h.events, "artifact.restored")
        .map((e) => `${e.jobId}:${e.name}:${e.path}`)
        .sort(),
    ).toEqual(["b:dist:input/dist", "c:dist:dist", "d:b-report:reports/b", "d:c-report:reports/c"]);
    // artifact events sit between the job's steps and its job.finished
    const aEvents = h.events.filter((e) => "jobId" in e && e.jobId === "a").map((e) => e.type);
    expect(aEvents.slice(-3)).toEqual(["step.finished", "artifact.saved", "job.finished"]);
  });

  it("stores the same content once", async () => {
    const plan = makePlan({
      x: { steps: ["write out same"], outputs: [{ name: "one", path: "out" }] },
      y: { steps: ["write out same"], outputs: [{ name: "two", path: "out" }] },
    });
    const h = await runFake(plan);
    const saved = eventsOf(h.events, "artifact.saved");
    expect(saved[0]?.hash).toBe(saved[1]?.hash);
    const hash = saved[0]!.hash;
    expect(readdirSync(join(sharedBlobs().dir, hash.slice(0, 2))).filter((f) => f === hash || f.startsWith(".tmp"))).toEqual([hash]);
  });

  it("a missing output path fails the job with a clear reason", async () => {
    const plan = makePlan({ a: { steps: ["write other x"], outputs: [{ name: "dist", path: "dist/" }] }, b: { needs: ["a"] } });
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toEqual({ a: "failure", b: "skipped" });
    expect(h.result.jobs.a?.reason).toBe(
      'output artifact "dist" ("dist/") could not be saved: path "dist/" does not exist in the job directory',
    );
    expect(eventsOf(h.events, "artifact.saved")).toEqual([]);
  });

  it("no artifacts are saved for a failed job", async () => {
    const plan = makePlan({ a: { steps: ["write dist/x 1\nexit 1"], outputs: [{ name: "dist", path: "dist" }] } });
    const h = await runFake(plan);
    expect(h.fakes.get("local")!.calls.some((c) => c.method === "readFiles")).toBe(false);
    expect(h.result.artifacts).toEqual({});
  });

  it("the first producer in `from` that produced the artifact wins", async () => {
    const plan = makePlan({
      "t (n=1)": { key: "t", steps: ["exit 1"], outputs: [{ name: "r", path: "r" }], continueOnError: true },
      "t (n=2)": { key: "t", steps: ["write r two"], outputs: [{ name: "r", path: "r" }] },
      use: { needs: ["t (n=1)", "t (n=2)"], inputs: [{ name: "r", path: "got", from: ["t (n=1)", "t (n=2)"] }], steps: ["cat got"] },
    });
    const h = await runFake(plan);
    expect(logLines(h.events, "use")).toEqual(["two"]);
  });

  it("an artifact from a job left out by -j --only fails clearly", async () => {
    const h = await runFake(diamond, { select: { jobs: ["b"], only: true } });
    expect(statuses(h.result)).toEqual({ b: "failure" });
    expect(h.result.jobs.b?.reason).toBe(
      'input artifact "dist" comes from "a", which did not run in this run (it was left out by the job selection)',
    );
    expect(h.violations).toEqual([]);
  });

  it("restored jobs (rerun) count as done and provide their artifacts", async () => {
    const first = await runFake(diamond, { select: { jobs: ["a"], only: false } });
    const art = eventsOf(first.events, "artifact.saved")[0]!;
    const h = await runFake(diamond, {
      runDir: first.runDir,
      select: { jobs: ["c"], only: false },
      restore: { jobs: { a: { status: "success", outputs: { v: "1" }, artifacts: { dist: { hash: art.hash } } } } },
    });
    expect(statuses(h.result)).toEqual({ a: "success", c: "success" });
    expect(logLines(h.events, "c")).toEqual(["deep"]);
    expect(eventsOf(h.events, "run.started")[0]?.jobIds).toEqual(["c"]);
  });
});
