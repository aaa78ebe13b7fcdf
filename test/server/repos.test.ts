/**
 * Runs pin a commit: a bare mirror per repository, fetched before each
 * resolve; refs resolved to commits; the tree unpacked once; the snapshot a
 * content-addressed tar stored once per tree. Remotes: a file path and a
 * real `git daemon` on loopback.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepoRegistry } from "../../src/server/git/repos.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { CI_WORKFLOW, commitFiles, makeRepo, sh, startGitDaemon, type GitDaemon } from "./git-fixtures.js";

let dir: string;
let store: Store;
let daemon: GitDaemon;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gantry-repos-"));
  store = openSqliteStore({ path: join(dir, "data", "gantry.db"), blobDir: join(dir, "data", "blobs") });
  await store.migrate();
  makeRepo(join(dir, "remotes", "app"), { ".gantry/ci.ts": CI_WORKFLOW, README: "one\n" });
  daemon = await startGitDaemon(join(dir, "remotes"));
});
afterAll(async () => {
  await daemon?.stop();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ["a file path", () => join(dir, "remotes", "app")],
  ["git daemon", () => daemon.url("app")],
])("repository through %s", (label, source) => {
  it("resolves the default branch, a branch and a commit; fetches new commits; unknown refs are named", async () => {
    const data = join(dir, `data-${label.replace(/\W/g, "")}`);
    const repos = new RepoRegistry([{ name: "app", source: source() }], data, store);
    const remote = join(dir, "remotes", "app");
    const head = sh(remote, "rev-parse", "HEAD");
    const pinned = await repos.resolve("app");
    expect(pinned).toMatchObject({ repo: "app", ref: "main", commit: head, tree: sh(remote, "rev-parse", "HEAD^{tree}") });
    expect(existsSync(join(data, "mirrors", "app.git", "HEAD"))).toBe(true);

    sh(remote, "checkout", "-q", "-b", "feature");
    const feature = commitFiles(remote, { "feature.txt": "f\n" }, "feature");
    sh(remote, "checkout", "-q", "main");
    expect((await repos.resolve("app", "feature")).commit).toBe(feature);
    expect((await repos.resolve("app", head)).commit).toBe(head);
    expect((await repos.resolve("app")).commit).toBe(head);
    await expect(repos.resolve("app", "nope")).rejects.toThrow(`has no branch, tag or commit "nope"`);
    await expect(repos.resolve("other")).rejects.toThrow(`no repository named "other"`);
    sh(remote, "branch", "-q", "-D", "feature");
  });

  it("unpacks the tree once and stores one snapshot per tree, whatever the commit", async () => {
    const data = join(dir, `snap-${label.replace(/\W/g, "")}`);
    const repos = new RepoRegistry([{ name: "app", source: source() }], data, store);
    const remote = join(dir, "remotes", "app");
    const first = await repos.checkout(await repos.resolve("app"));
    expect(readFileSync(join(first.dir, ".gantry", "ci.ts"), "utf8")).toBe(CI_WORKFLOW);
    const blob = await store.artifacts.blobPath(first.snapshot);
    expect(blob).toBeDefined();
    const listing = spawnSync("tar", ["-tf", blob as string], { encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean)
      .sort();
    expect(listing).toEqual([".gantry/", ".gantry/ci.ts", "README"]);
    // A new commit with the same tree: same snapshot; a different tree: a new one.
    commitFiles(remote, {}, "empty commit");
    const same = await repos.checkout(await repos.resolve("app"));
    expect(same.commit).not.toBe(first.commit);
    expect(same.snapshot).toBe(first.snapshot);
    // Another data dir (another server) makes the same bytes.
    const other = new RepoRegistry([{ name: "app", source: source() }], `${data}-2`, store);
    expect((await other.checkout(await other.resolve("app"))).snapshot).toBe(first.snapshot);
    commitFiles(remote, { README: `two ${label}\n` }, "change");
    const changed = await repos.checkout(await repos.resolve("app"));
    expect(changed.snapshot).not.toBe(first.snapshot);
    expect(readFileSync(join(changed.dir, "README"), "utf8")).toBe(`two ${label}\n`);
  });
});
