/**
 * An app on a real SQLite store in a temp dir, with one token per role, for
 * `app.request()` tests (no port).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { createApp } from "../../src/server/app.js";
import { createToken } from "../../src/server/auth.js";
import type { AppDeps } from "../../src/server/deps.js";
import { RepoRegistry, type RepoSpec } from "../../src/server/git/repos.js";
import { ServerMetrics } from "../../src/server/metrics.js";
import { createOrchestrator } from "../../src/server/orchestrator.js";
import { createRunEvents } from "../../src/server/run-events.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store, TokenRole } from "../../src/store/store.js";

export interface TestApp {
  readonly app: Hono;
  readonly store: Store;
  readonly dir: string;
  readonly deps: AppDeps;
  readonly tokens: Record<TokenRole, string>;
  /** `app.request` with a bearer token. */
  call(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

export async function testApp(options: { repos?: RepoSpec[]; extra?: Partial<AppDeps> } = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), "gantry-server-"));
  const store = openSqliteStore({ path: join(dir, "gantry.db"), blobDir: join(dir, "blobs") });
  await store.migrate();
  const tokens = {} as Record<TokenRole, string>;
  for (const role of ["viewer", "operator", "admin"] as const)
    tokens[role] = (await createToken(store, { role, name: `t-${role}`, actor: "test" })).token;
  const deps: AppDeps = {
    store,
    repos: new RepoRegistry(options.repos ?? [], dir, store),
    metrics: new ServerMetrics(),
    orchestrator: createOrchestrator(store),
    events: createRunEvents(store, { pollMs: 50 }),
    stateDir: dir,
    ...options.extra,
  };
  const app = createApp(deps);
  return {
    app,
    store,
    dir,
    deps,
    tokens,
    call(path, init = {}) {
      const { token = tokens.admin, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null) headers.set("authorization", `Bearer ${token}`);
      return Promise.resolve(app.request(path, { ...rest, headers }));
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
