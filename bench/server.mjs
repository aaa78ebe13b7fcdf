// `npm run bench server`: GET /api/v1/runs (first page, 50 runs) with 10,000 runs in a SQLite
// store, under autocannon with 100 connections for 10 s, through the real app and
// @hono/node-server: the p99 latency (target < 50 ms).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { serve } from "@hono/node-server";
import { openSqliteStore } from "../dist/store/sqlite-store.js";
import { createApp } from "../dist/server/app.js";
import { createToken } from "../dist/server/auth.js";
import { RepoRegistry } from "../dist/server/git/repos.js";
import { ServerMetrics } from "../dist/server/metrics.js";
import { createOrchestrator } from "../dist/server/orchestrator.js";
import { createRunEvents } from "../dist/server/run-events.js";

export async function benchmarks() {
  const dir = mkdtempSync(join(tmpdir(), "gantry-bench-api-"));
  const store = openSqliteStore({ path: join(dir, "gantry.db"), blobDir: join(dir, "blobs") });
  try {
    await store.migrate();
    for (let i = 0; i < 10_000; i += 1000) {
      const ops = [];
      for (let j = i; j < i + 1000; j++)
        ops.push({
          op: "run",
          run: {
            id: `run-${String(j).padStart(5, "0")}`,
            workflow: j % 3 ? "ci" : "deploy",
            file: ".gantry/ci.ts",
            trigger: "api",
            planHash: null,
            startedAt: 1_700_000_000_000 + j,
            owner: null,
          },
        });
      await store.write(ops);
    }
    const { token } = await createToken(store, { role: "viewer", name: "bench", actor: "bench" });
    const app = createApp({
      store,
      repos: new RepoRegistry([], dir, store),
      metrics: new ServerMetrics(),
      orchestrator: createOrchestrator(store),
      events: createRunEvents(store),
      stateDir: dir,
    });
    const server = await new Promise((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
    });
    const { port } = server.address();
    const result = await autocannon({
      url: `http://127.0.0.1:${port}/api/v1/runs`,
      connections: 100,
      duration: 10,
      headers: { authorization: `Bearer ${token}` },
    });
    await new Promise((r) => server.close(r));
    const p99 = result.latency.p99;
    return [
      {
        name: `GET /api/v1/runs, 10,000 runs, 100 connections (${Math.round(result.requests.average)} req/s, ${result.non2xx} non-2xx)`,
        gantry: `p99 ${p99} ms`,
        raw: "-",
        ratio: p99 / 50,
        target: "p99 < 50 ms",
        ok: p99 < 50 && result.non2xx === 0,
      },
    ];
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await benchmarks());
