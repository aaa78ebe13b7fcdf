/**
 * `gantry server` as a real process on a random port: the first start
 * prints a one-time admin token (not on later starts), the repository it
 * starts in is `default`, `--repo` adds others, `gantry server token
 * create|list|revoke` work while it runs, and SIGTERM stops it cleanly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CI_WORKFLOW, makeRepo } from "./git-fixtures.js";
import { gantry, startServerProcess } from "./server-process.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gantry-srv-"));
  makeRepo(join(dir, "repo"), { ".gantry/ci.ts": CI_WORKFLOW });
  makeRepo(join(dir, "other"), { ".gantry/ci.ts": CI_WORKFLOW.replace('name: "ci"', 'name: "other-ci"') });
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("gantry server", () => {
  it("serves the API, prints the admin token once, manages tokens from the CLI and stops on SIGTERM", async () => {
    const repo = join(dir, "repo");
    const server = await startServerProcess({ cwd: repo, args: ["--repo", `other=${join(dir, "other")}`, "--workers", "0"] });
    try {
      expect(server.adminToken).toMatch(/^gantry_/);
      expect(await (await server.api("/healthz", { token: null })).json()).toEqual({ ok: true });
      expect((await server.api("/api/v1/repos", { token: null })).status).toBe(401);
      const repos = (await (await server.api("/api/v1/repos")).json()) as { repos: { name: string; source: string }[] };
      expect(repos.repos).toEqual([
        { name: "default", source: repo },
        { name: "other", source: join(dir, "other") },
      ]);
      const wf = (await (await server.api("/api/v1/repos/other/workflows")).json()) as {
        ref: string;
        workflows: { name: string; jobs: string[] }[];
      };
      expect(wf, JSON.stringify(wf)).toMatchObject({ ref: "main" });
      expect(wf.workflows).toEqual([{ name: "other-ci", file: ".gantry/ci.ts", jobs: ["build", "test"], inputs: null }]);

      // Token commands work on the store while the server runs; create prints only the token.
      const created = gantry(repo, ["server", "token", "create", "--role", "viewer", "--name", "dash", "--expires", "30d"]);
      expect(created.stderr).toBe("");
      expect(created.code).toBe(0);
      const token = created.stdout.trim();
      expect(token).toMatch(/^gantry_[A-Za-z0-9_-]{43}$/);
      expect((await server.api("/api/v1/runs", { token })).status).toBe(200);
      expect((await server.api("/api/v1/tokens", { token })).status).toBe(403);
      const list = gantry(repo, ["server", "token", "list", "--json"]);
      const tokens = JSON.parse(list.stdout) as { id: string; name: string }[];
      const id = tokens.find((t) => t.name === "dash")?.id as string;
      expect(gantry(repo, ["server", "token", "revoke", id]).code).toBe(0);
      expect((await server.api("/api/v1/runs", { token })).status).toBe(401);
      const bad = gantry(repo, ["server", "token", "create", "--role", "root", "--name", "x"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--role root: expected admin, operator or viewer");

      const audit = (await (await server.api("/api/v1/audit")).json()) as { entries: { action: string; actor: string }[] };
      expect(audit.entries.map((e) => `${e.action} ${e.actor}`)).toEqual(["token.revoke cli", "token.create cli", "token.create server"]);
    } finally {
      expect(await server.stop("SIGTERM")).toBe(0);
    }
    expect(server.output()).toContain('"msg":"stopped"');
    // A second start on the same store prints no token.
    const again = await startServerProcess({ cwd: repo, args: ["--workers", "0"] });
    expect(again.adminToken).toBeUndefined();
    expect(again.output()).not.toContain("gantry_");
    expect(await again.stop("SIGTERM")).toBe(0);
  });

  it("refuses bad flags with exit 2 and one sentence", () => {
    const r = gantry(join(dir, "repo"), ["server", "--listen", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--listen nope: expected HOST:PORT");
    const repo = gantry(join(dir, "repo"), ["server", "--repo", "bad name=/x"]);
    expect(repo.code).toBe(2);
    expect(repo.stderr).toContain("--repo bad name=/x: expected NAME=PATH or NAME=URL");
  });
});
