/**
 * Typed inputs through a real `gantry server` process, on SQLite and on
 * PostgreSQL: the workflow list describes them (JSON schema), a trigger
 * validates them (400 naming the input), steps read them, the run records
 * them and a rerun keeps them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireService } from "../support/services.js";
import { dropCreatedSchemas, freshSchemaName, TEST_DATABASE_URL } from "../store/pg-harness.js";
import { makeRepo } from "./git-fixtures.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

const WORKFLOWS = {
  ".gantry/deploy.ts": `import { job, sh, workflow, z, type StepContext } from "gantry";
const inputs = z.object({
  target: z.enum(["staging", "production"]).describe("where to deploy"),
  replicas: z.number().int().min(1).default(2),
  dryRun: z.boolean().default(false),
});
type Ctx = StepContext<z.infer<typeof inputs>>;
export default workflow({
  name: "deploy",
  on: { manual: true },
  inputs,
  jobs: {
    deploy: job({
      steps: [
        sh\`echo "shell: $GANTRY_INPUT_TARGET x$GANTRY_INPUT_REPLICAS dry=$GANTRY_INPUT_DRYRUN"\`,
        async (ctx: Ctx) => ctx.log.info(\`ts: \${ctx.inputs.target} x\${ctx.inputs.replicas * 10}\`),
      ],
    }),
  },
});
`,
};

const backends: [string, () => Promise<Record<string, string> | undefined>][] = [
  ["sqlite", () => Promise.resolve({})],
  [
    "postgres",
    async () => {
      if (await requireService("postgres", "the typed inputs tests on PostgreSQL")) return undefined;
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set("schema", freshSchemaName("srv_inputs"));
      return { GANTRY_DATABASE_URL: url.toString() };
    },
  ],
];

afterAll(async () => dropCreatedSchemas().catch(() => undefined));

async function triggerRaw(server: ServerProcess, body: unknown): Promise<Response> {
  return server.api(`/api/v1/repos/default/workflows/deploy/runs`, { method: "POST", body: JSON.stringify(body) });
}

/** Wait for the end of the run: its SSE stream ends after run.finished. */
async function finished(server: ServerProcess, id: string): Promise<{ status: string; inputs: unknown }> {
  await (await server.api(`/api/v1/runs/${id}/events`)).text();
  return (await (await server.api(`/api/v1/runs/${id}`)).json()) as { status: string; inputs: unknown };
}

describe.each(backends)("typed inputs on %s", (_name, envFor) => {
  let dir: string;
  let server: ServerProcess | undefined;
  let skipped: string | undefined;

  beforeAll(async () => {
    const env = await envFor();
    if (!env) {
      skipped = "PostgreSQL is not reachable";
      return;
    }
    dir = mkdtempSync(join(tmpdir(), "gantry-inputs-"));
    makeRepo(join(dir, "repo"), WORKFLOWS);
    server = await startServerProcess({ cwd: join(dir, "repo"), args: ["--workers", "1", "--data", join(dir, "data")], env });
  });
  afterAll(async () => {
    if (server) expect(await server.stop("SIGTERM")).toBe(0);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("describes the inputs of each workflow as JSON schema", async (ctx) => {
    if (skipped || !server) return ctx.skip(skipped);
    const list = (await (await server.api("/api/v1/repos/default/workflows")).json()) as {
      workflows: { name: string; inputs: Record<string, unknown> | null }[];
    };
    expect(list.workflows[0]?.inputs).toMatchObject({
      type: "object",
      properties: { target: { enum: ["staging", "production"], description: "where to deploy" }, replicas: { default: 2 } },
      required: ["target"],
    });
  });

  it("refuses invalid inputs with 400 naming the input, and writes no run", async (ctx) => {
    if (skipped || !server) return ctx.skip(skipped);
    const cases: [unknown, string][] = [
      [{ inputs: { target: "prod" } }, "inputs.target"],
      [{ inputs: { target: "staging", replicas: "many" } }, "inputs.replicas"],
      [{ inputs: { target: "staging", region: "eu" } }, 'unknown input "region"'],
      [{}, "inputs.target: required, but missing"],
    ];
    for (const [body, message] of cases) {
      const res = await triggerRaw(server, body);
      const error = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, JSON.stringify(error)).toBe(400);
      expect(error.error.code).toBe("invalid_request");
      expect(error.error.message).toContain(message);
    }
    const runs = (await (await server.api("/api/v1/runs")).json()) as { runs: unknown[] };
    expect(runs.runs).toEqual([]);
  });

  it("runs with the inputs (strings coerced by the schema), records them, and a rerun keeps them", async (ctx) => {
    if (skipped || !server) return ctx.skip(skipped);
    const res = await triggerRaw(server, { inputs: { target: "production", replicas: "3" } });
    expect(res.status, await res.clone().text()).toBe(201);
    const created = (await res.json()) as { id: string; inputs: unknown };
    expect(created.inputs).toEqual({ target: "production", replicas: 3, dryRun: false });
    const run = await finished(server, created.id);
    expect(run.status).toBe("success");
    const logs = await (await server.api(`/api/v1/runs/${created.id}/logs`)).text();
    expect(logs).toContain("shell: production x3 dry=false");
    expect(logs).toContain("ts: production x30");

    const again = await server.api(`/api/v1/runs/${created.id}/rerun`, { method: "POST", body: "{}" });
    expect(again.status).toBe(201);
    const rerunId = ((await again.json()) as { id: string }).id;
    expect((await finished(server, rerunId)).inputs).toEqual({ target: "production", replicas: 3, dryRun: false });
    expect(await (await server.api(`/api/v1/runs/${rerunId}/logs`)).text()).toContain("ts: production x30");
  });
});
