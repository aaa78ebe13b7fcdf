/**
 * End to end with real `gantry server` processes on random ports, embedded
 * workers, on SQLite and on PostgreSQL: trigger -> success with logs and
 * artifacts through the API; a failing job; cancel mid-run; rerun failed;
 * the SSE stream of a run; SIGTERM leaves nothing running.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireService } from "../support/services.js";
import { dropCreatedSchemas, freshSchemaName, TEST_DATABASE_URL } from "../store/pg-harness.js";
import { makeRepo } from "./git-fixtures.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

const WORKFLOWS = {
  "README.md": "from the snapshot\n",
  ".gantry/hello.ts": `import { job, sh, workflow } from "gantry";
export default workflow({
  name: "hello",
  on: { manual: true },
  jobs: {
    greet: job({
      steps: [sh\`mkdir -p out\`, sh\`cat README.md > out/greeting.txt\`, sh\`echo "hello from gantry"\`],
      outputs: { artifacts: { greeting: "out/greeting.txt" } },
    }),
    reply: job({ needs: ["greet"], inputs: { artifacts: { greeting: "in/greeting.txt" } }, steps: [sh\`cat in/greeting.txt\`] }),
  },
});
`,
  ".gantry/broken.ts": `import { job, sh, workflow } from "gantry";
export default workflow({
  name: "broken",
  on: { manual: true },
  jobs: { ok: job({ steps: [sh\`echo fine\`] }), bad: job({ steps: [sh\`echo about to fail; exit 3\`] }), after: job({ needs: ["bad"], steps: [sh\`echo never\`] }) },
});
`,
  ".gantry/slow.ts": `import { job, sh, workflow } from "gantry";
export default workflow({
  name: "slow",
  on: { manual: true },
  jobs: { wait: job({ steps: [sh\`echo started; sleep 60\`] }) },
});
`,
};

interface RunDetail {
  id: string;
  status: string;
  jobs: { jobId: string; status: string; steps: { status: string; exitCode: number | null }[] }[];
}

/** Read the run's SSE stream to its end (after run.finished); returns the event types. */
async function follow(server: ServerProcess, runId: string, onEvent?: (type: string) => void): Promise<string[]> {
  const res = await server.api(`/api/v1/runs/${runId}/events`);
  expect(res.status).toBe(200);
  const types: string[] = [];
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = text.indexOf("\n\n")) >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const type = /^event: (.+)$/m.exec(block)?.[1];
      if (type) {
        types.push(type);
        onEvent?.(type);
      }
    }
  }
  return types;
}

async function trigger(server: ServerProcess, workflow: string): Promise<string> {
  const res = await server.api(`/api/v1/repos/default/workflows/${workflow}/runs`, { method: "POST", body: "{}" });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function detail(server: ServerProcess, id: string): Promise<RunDetail> {
  return (await (await server.api(`/api/v1/runs/${id}`)).json()) as RunDetail;
}

const backends: [string, () => Promise<Record<string, string> | undefined>][] = [
  ["sqlite", () => Promise.resolve({})],
  [
    "postgres",
    async () => {
      const skip = await requireService("postgres", "the server end-to-end tests on PostgreSQL");
      if (skip) return undefined;
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set("schema", freshSchemaName("srv_e2e"));
      return { GANTRY_DATABASE_URL: url.toString() };
    },
  ],
];

afterAll(async () => dropCreatedSchemas().catch(() => undefined));

describe.each(backends)("gantry server on %s", (_name, envFor) => {
  let dir: string;
  let server: ServerProcess | undefined;
  let skipped: string | undefined;

  beforeAll(async () => {
    const env = await envFor();
    if (!env) {
      skipped = "PostgreSQL is not reachable";
      return;
    }
    dir = mkdtempSync(join(tmpdir(), "gantry-e2e-"));
    makeRepo(join(dir, "repo"), WORKFLOWS);
    server = await startServerProcess({ cwd: join(dir, "repo"), args: ["--workers", "2", "--data", join(dir, "data")], env });
  });
  afterAll(async () => {
    if (server) expect(await server.stop("SIGTERM")).toBe(0);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs a workflow to success: logs and artifacts through the API", async (ctx) => {
    if (skipped || !server) ctx.skip(skipped);
    if (!server) throw new Error("no server");
    const id = await trigger(server, "hello");
    const types = await follow(server, id);
    expect(types[0]).toBe("run.started");
    expect(types[types.length - 1]).toBe("run.finished");
    const run = await detail(server, id);
    expect(run.status, JSON.stringify(run)).toBe("success");
    expect(run.jobs.map((j) => [j.jobId, j.status])).toEqual([
      ["greet", "success"],
      ["reply", "success"],
    ]);
    const logs = await (await server.api(`/api/v1/runs/${id}/logs`)).text();
    expect(logs).toContain("hello from gantry");
    expect(logs).toContain("from the snapshot");
    const tar = join(dir, "greeting.tar");
    writeFileSync(tar, Buffer.from(await (await server.api(`/api/v1/runs/${id}/artifacts/greeting`)).arrayBuffer()));
    const listing = spawnSync("tar", ["-xOf", tar], { encoding: "utf8" });
    expect(listing.stdout).toBe("from the snapshot\n");
  });

  it("a failing job fails the run; rerun failed runs only what failed and what needs it", async (ctx) => {
    if (skipped || !server) ctx.skip(skipped);
    if (!server) throw new Error("no server");
    const id = await trigger(server, "broken");
    await follow(server, id);
    const run = await detail(server, id);
    expect(run.status).toBe("failure");
    const byId = Object.fromEntries(run.jobs.map((j) => [j.jobId, j]));
    expect(byId.ok?.status).toBe("success");
    expect(byId.bad?.status).toBe("failure");
    expect(byId.bad?.steps[0]?.exitCode).toBe(3);
    expect(byId.after?.status).toBe("skipped");
    expect(await (await server.api(`/api/v1/runs/${id}/logs?job=bad`)).text()).toContain("about to fail");
    const res = await server.api(`/api/v1/runs/${id}/rerun`, { method: "POST", body: JSON.stringify({ failed: true }) });
    expect(res.status).toBe(201);
    const rerunId = ((await res.json()) as { id: string }).id;
    await follow(server, rerunId);
    const rerun = await detail(server, rerunId);
    expect(rerun.status).toBe("failure");
    expect(Object.fromEntries(rerun.jobs.map((j) => [j.jobId, j.status]))).toMatchObject({ bad: "failure", after: "skipped" });
  });

  it("cancels a run mid-job", async (ctx) => {
    if (skipped || !server) ctx.skip(skipped);
    if (!server) throw new Error("no server");
    const id = await trigger(server, "slow");
    let cancelled: Promise<Response> | undefined;
    await follow(server, id, (type) => {
      if (type === "log" && !cancelled) cancelled = server!.api(`/api/v1/runs/${id}/cancel`, { method: "POST" });
    });
    expect((await cancelled)?.status).toBe(202);
    const run = await detail(server, id);
    expect(run.status).toBe("cancelled");
    expect(run.jobs[0]?.status).toBe("cancelled");
  });
});
