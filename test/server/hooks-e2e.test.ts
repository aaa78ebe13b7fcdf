/**
 * Webhooks end to end, with real HTTP against `gantry server` processes on
 * SQLite and PostgreSQL, repositories served by a real `git daemon` on
 * loopback, and a local HTTP receiver standing in for each forge's status
 * API. For GitHub, Gitea, Forgejo and GitLab payloads: a signed push for a
 * matching branch starts exactly one run at the pushed commit; the same
 * delivery again starts nothing; a wrong signature, none, a replay with
 * another body and a 26 MB body are refused with audit rows and start
 * nothing; a pull request and a tag start what their filters say; commit
 * statuses reach the forge (retried after a failure). A delivery stored by a
 * server that dies before processing it is processed after the restart.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireService } from "../support/services.js";
import { dropCreatedSchemas, freshSchemaName, TEST_DATABASE_URL } from "../store/pg-harness.js";
import { commitFiles, makeRepo, sh, startGitDaemon, type GitDaemon } from "./git-fixtures.js";
import { deliveryHeaders, githubPull, gitlabMerge, pushPayload, unsigned, type Provider } from "./hook-payloads.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

const PROVIDERS: Provider[] = ["github", "gitea", "forgejo", "gitlab"];
const SECRET = "hook secret with spaces";
const ZERO = "0".repeat(40);

const workflowsOf = (p: Provider): Record<string, string> => ({
  "README.md": "hello\n",
  ".gantry/ci.ts": `import { job, sh, workflow } from "gantry";
export default workflow({
  name: "ci-${p}",
  on: { push: { branches: ["main"], pathsIgnore: ["docs/**"] }, pullRequest: { branches: ["main"], paths: ["src/**"] } },
  jobs: { build: job({ steps: [sh\`test -f README.md && echo built\`] }) },
});
`,
  ".gantry/release.ts": `import { job, sh, workflow } from "gantry";
export default workflow({ name: "release-${p}", on: { push: { tags: ["v*"] } }, jobs: { ship: job({ steps: [sh\`echo shipped\`] }) } });
`,
  ".gantry/manual.ts": `import { job, sh, workflow } from "gantry";
export default workflow({ name: "manual-${p}", jobs: { once: job({ steps: [sh\`echo by hand\`] }) } });
`,
});

interface Delivery {
  id: string;
  state: string;
  duplicate?: boolean;
  result: { runs: { id: string; workflow: string }[]; skipped: { workflow: string; reason: string }[]; errors: unknown[] } | null;
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A forge's status API: records every request; the first request for each commit answers 503 (to see the retry). */
async function startReceiver(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const failed = new Set<string>();
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (b: Buffer) => (text += b.toString()));
    req.on("end", () => {
      const url = req.url ?? "";
      if (!failed.has(url)) {
        failed.add(url);
        res.writeHead(503).end("try again");
        return;
      }
      seen.push({ method: req.method ?? "", url, headers: req.headers, body: JSON.parse(text || "{}") as Record<string, unknown> });
      res.writeHead(201, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

const apiRoot = (recv: string, p: Provider): string =>
  p === "github" ? `${recv}/github` : p === "gitlab" ? `${recv}/gitlab/api/v4` : `${recv}/${p}/api/v1`;

const backends: [string, () => Promise<Record<string, string> | undefined>][] = [
  ["sqlite", () => Promise.resolve({})],
  [
    "postgres",
    async () => {
      if (await requireService("postgres", "the webhook end-to-end tests on PostgreSQL")) return undefined;
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set("schema", freshSchemaName("srv_hooks"));
      return { GANTRY_DATABASE_URL: url.toString() };
    },
  ],
];

afterAll(async () => dropCreatedSchemas().catch(() => undefined));

describe.each(backends)("webhooks on %s", (_name, envFor) => {
  let dir: string;
  let daemon: GitDaemon | undefined;
  let server: ServerProcess | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  let env: Record<string, string> | undefined;
  let args: string[];
  let admin: string | undefined;

  beforeAll(async () => {
    env = await envFor();
    if (!env) return;
    dir = mkdtempSync(join(tmpdir(), "gantry-hooks-"));
    for (const p of PROVIDERS) makeRepo(join(dir, "remotes", p), workflowsOf(p));
    daemon = await startGitDaemon(join(dir, "remotes"));
    receiver = await startReceiver();
    writeFileSync(join(dir, "secret"), `${SECRET}\n`);
    writeFileSync(join(dir, "status-token"), "forge-token\n");
    makeRepo(join(dir, "home"), { "README.md": "server home\n" });
    args = ["--workers", "2", "--data", join(dir, "data")];
    for (const p of PROVIDERS)
      args.push(
        "--repo",
        `${p}=${daemon.url(p)}`,
        "--hook-secret",
        `${p}=${join(dir, "secret")}`,
        "--status-token-file",
        `${p}=${join(dir, "status-token")}`,
        "--status-url",
        `${p}=${apiRoot(receiver.url, p)}`,
      );
    server = await startServerProcess({ cwd: join(dir, "home"), args, env });
    admin = server.adminToken;
  });
  afterAll(async () => {
    if (server) expect(await server.stop("SIGTERM")).toBe(0);
    await daemon?.stop();
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = (p: Provider, body: string, headers: Record<string, string>) =>
    fetch(`${(server as ServerProcess).url}/api/v1/hooks/${p}/${p}`, { method: "POST", body, headers });
  const api = async <T>(path: string): Promise<T> => (await (server as ServerProcess).api(path, { token: admin })).json() as Promise<T>;
  const done = (id: string) =>
    waitFor(`delivery ${id}`, async () => {
      const d = await api<Delivery>(`/api/v1/hooks/deliveries/${id}`);
      return d.state === "done" || d.state === "failed" ? d : undefined;
    });
  const runsOf = async (workflow: string) => (await api<{ runs: { id: string }[] }>(`/api/v1/runs?workflow=${workflow}&limit=100`)).runs;
  const finished = (id: string) =>
    waitFor(`run ${id}`, async () => {
      const r = await api<{ status: string; source: unknown }>(`/api/v1/runs/${id}`);
      return r.status === "running" ? undefined : r;
    });
  const refused = async () =>
    (await api<{ entries: { action: string; actor: string }[] }>("/api/v1/audit?limit=1000")).entries.filter(
      (e) => e.action === "hook.refused",
    );

  describe.each(PROVIDERS)("%s", (p) => {
    it(
      "a signed push to main starts exactly one run at the pushed commit; the same delivery again starts nothing",
      { timeout: 120_000 },
      async (ctx) => {
        ctx.skip(!env, "PostgreSQL is not reachable");
        const remote = join(dir, "remotes", p);
        const before = sh(remote, "rev-parse", "HEAD");
        const after = commitFiles(remote, { "src/app.ts": "export {};\n" }, "add the app");
        const body = JSON.stringify(
          pushPayload(p, { ref: "refs/heads/main", before, after, files: { added: ["src/app.ts"] }, sender: "mona" }),
        );
        const headers = deliveryHeaders(p, "push", body, SECRET);
        const res = await post(p, body, headers);
        expect(res.status, await res.clone().text()).toBe(202);
        const delivery = await done(((await res.json()) as Delivery).id);
        expect(delivery.state).toBe("done");
        expect(delivery.result?.runs.map((r) => r.workflow)).toEqual([`ci-${p}`]);
        expect(delivery.result?.skipped.map((s) => s.workflow).sort()).toEqual([`manual-${p}`, `release-${p}`]);
        const runId = delivery.result?.runs[0]?.id as string;
        const run = await finished(runId);
        expect(run).toMatchObject({
          status: "success",
          source: {
            repo: p,
            commit: after,
            ref: "main",
            trigger: { kind: "hook", by: `hook:${p}`, event: "push", sender: "mona", delivery: delivery.id },
          },
        });

        const again = await post(p, body, headers);
        expect(again.status).toBe(200);
        expect(await again.json()).toMatchObject({ id: delivery.id, state: "done", duplicate: true });
        expect(await runsOf(`ci-${p}`)).toHaveLength(1);

        // The forge saw pending, then success, for that commit (each after one 503 and a retry).
        const path =
          p === "gitlab"
            ? `/gitlab/api/v4/projects/15/statuses/${after}`
            : `${new URL(apiRoot("http://x", p)).pathname}/repos/${p === "github" ? "Codertocat/Hello-World" : "gitea/webhooks"}/statuses/${after}`;
        const statuses = await waitFor("the success status", async () => {
          const mine = (receiver?.seen ?? []).filter((s) => s.url === path);
          return mine.some((s) => s.body.state === "success") ? mine : undefined;
        });
        // `pending` is skipped when the run ended before its retry: the forge only needs the state that holds.
        expect(["pending,success", "success"]).toContain(statuses.map((s) => s.body.state).join(","));
        const first = statuses[statuses.length - 1] as Seen;
        expect(first.method).toBe("POST");
        if (p === "github") {
          expect(first.headers.authorization).toBe("Bearer forge-token");
          expect(first.headers.accept).toBe("application/vnd.github+json");
          expect(first.body).toMatchObject({ context: `gantry/ci-${p}`, description: expect.any(String) });
        } else if (p === "gitlab") {
          expect(first.headers["private-token"]).toBe("forge-token");
          expect(first.body).toMatchObject({ name: `gantry/ci-${p}`, ref: "main" });
        } else {
          expect(first.headers.authorization).toBe("token forge-token");
          expect(first.body).toMatchObject({ context: `gantry/ci-${p}` });
        }
      },
    );

    it(
      "no signature, a wrong one, a replay with another body, a 26 MB body: refused, audited, nothing started",
      { timeout: 120_000 },
      async (ctx) => {
        ctx.skip(!env, "PostgreSQL is not reachable");
        const remote = join(dir, "remotes", p);
        const head = sh(remote, "rev-parse", "HEAD");
        const body = JSON.stringify(pushPayload(p, { ref: "refs/heads/main", before: head, after: head }));
        const delivered = (await api<{ deliveries: unknown[] }>(`/api/v1/hooks/deliveries?repo=${p}`)).deliveries.length;
        const audited = (await refused()).length;
        const runs = (await runsOf(`ci-${p}`)).length;
        const signed = deliveryHeaders(p, "push", body, SECRET, `replayed-${p}`);
        expect((await post(p, body, unsigned(signed))).status).toBe(401);
        expect((await post(p, body, deliveryHeaders(p, "push", body, "guess"))).status).toBe(401);
        if (p === "gitlab") {
          // GitLab's token does not cover the body: the first delivery is taken, its replay with another body is not.
          expect((await post(p, body, signed)).status).toBe(202);
          expect((await post(p, body.replace("refs/heads/main", "refs/heads/other"), signed)).status).toBe(409);
        } else expect((await post(p, body.replace("refs/heads/main", "refs/heads/other"), signed)).status).toBe(401);
        const big = Buffer.alloc(26 * 1024 * 1024, 0x20);
        const tooBig = await fetch(`${(server as ServerProcess).url}/api/v1/hooks/${p}/${p}`, {
          method: "POST",
          body: big,
          headers: signed,
        });
        expect(tooBig.status).toBe(413);
        const rows = (await refused()).slice(0, (await refused()).length - audited);
        expect(rows).toHaveLength(4);
        for (const r of rows) expect(r.actor).toBe(`hook:${p}`);
        const after = (await api<{ deliveries: unknown[] }>(`/api/v1/hooks/deliveries?repo=${p}`)).deliveries.length;
        expect(after - delivered).toBe(p === "gitlab" ? 1 : 0);
        expect(await runsOf(`ci-${p}`)).toHaveLength(runs);
      },
    );

    it("a pull request to main touching src/ and a v* tag start what their filters say", { timeout: 120_000 }, async (ctx) => {
      ctx.skip(!env, "PostgreSQL is not reachable");
      const remote = join(dir, "remotes", p);
      const base = sh(remote, "rev-parse", "HEAD");
      sh(remote, "checkout", "-q", "-b", "feature");
      const head = commitFiles(remote, { "src/feature.ts": "export const f = 1;\n" }, "feature");
      sh(remote, "checkout", "-q", "main");
      const spec = { action: "opened", number: 7, base: "main", baseSha: base, head: "feature", headSha: head };
      const prBody = JSON.stringify(p === "gitlab" ? gitlabMerge(spec) : githubPull(spec));
      const pr = await post(p, prBody, deliveryHeaders(p, "pull_request", prBody, SECRET));
      expect(pr.status, await pr.clone().text()).toBe(202);
      const prDelivery = await done(((await pr.json()) as Delivery).id);
      expect(prDelivery.result?.runs.map((r) => r.workflow)).toEqual([`ci-${p}`]);
      expect(await finished(prDelivery.result?.runs[0]?.id as string)).toMatchObject({
        status: "success",
        source: { commit: head, ref: "feature", trigger: { event: "pull_request", pullRequest: 7 } },
      });

      // A docs-only push to main: pathsIgnore skips ci.
      const docs = commitFiles(remote, { "docs/guide.md": "# guide\n" }, "docs");
      const docsBody = JSON.stringify(pushPayload(p, { ref: "refs/heads/main", before: base, after: docs }));
      const docsRes = await post(p, docsBody, deliveryHeaders(p, "push", docsBody, SECRET));
      const skipped = await done(((await docsRes.json()) as Delivery).id);
      expect(skipped.result?.runs).toEqual([]);
      expect(skipped.result?.skipped.find((s) => s.workflow === `ci-${p}`)?.reason).toContain("pathsIgnore");

      sh(remote, "tag", "v1.0.0");
      const tagBody = JSON.stringify(pushPayload(p, { ref: "refs/tags/v1.0.0", before: ZERO, after: docs }));
      const tagRes = await post(p, tagBody, deliveryHeaders(p, p === "gitlab" ? "tag_push" : "push", tagBody, SECRET));
      const tag = await done(((await tagRes.json()) as Delivery).id);
      expect(tag.result?.runs.map((r) => r.workflow)).toEqual([`release-${p}`]);
      expect(await finished(tag.result?.runs[0]?.id as string)).toMatchObject({
        status: "success",
        source: { commit: docs, ref: "v1.0.0" },
      });
    });
  });

  it(
    "a delivery stored by a server that dies before processing it is processed after the restart, once",
    { timeout: 120_000 },
    async (ctx) => {
      ctx.skip(!env, "PostgreSQL is not reachable");
      await server?.stop("SIGTERM");
      const receiving = await startServerProcess({ cwd: join(dir, "home"), args, env: { ...env, GANTRY_HOOK_PROCESSING: "off" } });
      const remote = join(dir, "remotes", "github");
      const before = sh(remote, "rev-parse", "HEAD");
      const after = commitFiles(remote, { "src/crash.ts": "export {};\n" }, "crash");
      const body = JSON.stringify(pushPayload("github", { ref: "refs/heads/main", before, after }));
      const res = await fetch(`${receiving.url}/api/v1/hooks/github/github`, {
        method: "POST",
        body,
        headers: deliveryHeaders("github", "push", body, SECRET),
      });
      expect(res.status).toBe(202);
      const id = ((await res.json()) as Delivery).id;
      await receiving.stop("SIGKILL");
      server = await startServerProcess({ cwd: join(dir, "home"), args, env });
      const delivery = await done(id);
      expect(delivery.result?.runs).toHaveLength(1);
      expect(await finished(delivery.result?.runs[0]?.id as string)).toMatchObject({ status: "success", source: { commit: after } });
    },
  );
});
