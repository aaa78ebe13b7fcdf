/**
 * `on.push` / `on.pullRequest` filters (core/triggers.ts), table-tested, and
 * the plan errors of a wrong `on`.
 */
import { describe, expect, test } from "vitest";
import { sh } from "gantry";
import type { Triggers } from "../../src/core/definition.js";
import { matchTrigger, type TriggerEvent } from "../../src/core/triggers.js";
import { compile, issuesOf } from "./helpers.js";

const push = (ref: string, changedFiles?: string[]): TriggerEvent => ({ kind: "push", ref, ...(changedFiles ? { changedFiles } : {}) });
const pr = (baseBranch: string, changedFiles?: string[]): TriggerEvent => ({
  kind: "pullRequest",
  baseBranch,
  ...(changedFiles ? { changedFiles } : {}),
});

const cases: [string, Triggers, TriggerEvent, boolean][] = [
  ["no on: nothing from a forge", {}, push("refs/heads/main"), false],
  ["manual only", { manual: true }, push("refs/heads/main"), false],
  ["push {}: every branch", { push: {} }, push("refs/heads/feature/x"), true],
  ["push {}: every tag", { push: {} }, push("refs/tags/v1.0.0"), true],
  ["branches: exact", { push: { branches: ["main"] } }, push("refs/heads/main"), true],
  ["branches: another branch", { push: { branches: ["main"] } }, push("refs/heads/dev"), false],
  ["branches: * stops at /", { push: { branches: ["feature/*"] } }, push("refs/heads/feature/a/b"), false],
  ["branches: ** crosses /", { push: { branches: ["feature/**"] } }, push("refs/heads/feature/a/b"), true],
  [
    "branches: ! excludes what came before",
    { push: { branches: ["releases/**", "!releases/**-alpha"] } },
    push("refs/heads/releases/1.0-alpha"),
    false,
  ],
  [
    "branches: ! then include again",
    { push: { branches: ["releases/**", "!releases/**-alpha", "releases/2.0-alpha"] } },
    push("refs/heads/releases/2.0-alpha"),
    true,
  ],
  ["branches only: a tag push does not match", { push: { branches: ["**"] } }, push("refs/tags/v1"), false],
  ["tags only: a branch push does not match", { push: { tags: ["v*"] } }, push("refs/heads/main"), false],
  ["tags: matching", { push: { tags: ["v*"] } }, push("refs/tags/v1.2.3"), true],
  ["tags: not matching", { push: { tags: ["v*"] } }, push("refs/tags/nightly"), false],
  ["tags: path filters are not evaluated", { push: { tags: ["v*"], paths: ["src/**"] } }, push("refs/tags/v2", ["README.md"]), true],
  ["paths: one file matches", { push: { paths: ["src/**"] } }, push("refs/heads/main", ["README.md", "src/a/b.ts"]), true],
  ["paths: none matches", { push: { paths: ["src/**"] } }, push("refs/heads/main", ["README.md", "docs/x.md"]), false],
  ["paths: *.md is one segment", { push: { paths: ["*.md"] } }, push("refs/heads/main", ["docs/x.md"]), false],
  ["paths: **/*.md any depth", { push: { paths: ["**/*.md"] } }, push("refs/heads/main", ["docs/x.md"]), true],
  ["paths: dotfiles match", { push: { paths: ["**"] } }, push("refs/heads/main", [".github/x.yml"]), true],
  ["paths: ! excludes a file", { push: { paths: ["src/**", "!src/**/*.test.ts"] } }, push("refs/heads/main", ["src/a.test.ts"]), false],
  [
    "paths: ! but another file matches",
    { push: { paths: ["src/**", "!src/**/*.test.ts"] } },
    push("refs/heads/main", ["src/a.test.ts", "src/a.ts"]),
    true,
  ],
  ["paths: unknown changed files pass", { push: { paths: ["src/**"] } }, push("refs/heads/main"), true],
  ["paths: no changed file (an empty push) matches nothing", { push: { paths: ["**"] } }, push("refs/heads/main", []), false],
  [
    "pathsIgnore: only ignored files",
    { push: { pathsIgnore: ["docs/**", "*.md"] } },
    push("refs/heads/main", ["docs/a.md", "README.md"]),
    false,
  ],
  ["pathsIgnore: one file not ignored", { push: { pathsIgnore: ["docs/**"] } }, push("refs/heads/main", ["docs/a.md", "src/x.ts"]), true],
  ["pathsIgnore with branches", { push: { branches: ["main"], pathsIgnore: ["docs/**"] } }, push("refs/heads/dev", ["src/x.ts"]), false],
  ["branches and paths both needed", { push: { branches: ["main"], paths: ["src/**"] } }, push("refs/heads/main", ["src/x.ts"]), true],
  ["pullRequest: not a push", { pullRequest: {} }, push("refs/heads/main"), false],
  ["push: not a pull request", { push: {} }, pr("main"), false],
  ["pullRequest {}: any base", { pullRequest: {} }, pr("dev"), true],
  ["pullRequest: base branch matches", { pullRequest: { branches: ["main", "release/**"] } }, pr("release/1.x"), true],
  ["pullRequest: base branch does not", { pullRequest: { branches: ["main"] } }, pr("dev"), false],
  ["pullRequest: paths", { pullRequest: { paths: ["src/**"] } }, pr("main", ["src/a.ts"]), true],
  ["pullRequest: paths not matching", { pullRequest: { paths: ["src/**"] } }, pr("main", ["docs/a.md"]), false],
];

describe("matchTrigger", () => {
  test.each(cases)("%s", (_name, triggers, event, expected) => {
    const result = matchTrigger(triggers, event);
    expect(result.match, result.reason).toBe(expected);
    expect(result.reason).not.toBe("");
  });
});

describe("on: in the plan", () => {
  const wf = (on: unknown) => ({ kind: "workflow", name: "ci", on, jobs: { a: { kind: "job", steps: [sh`true`] } } });

  test("push and pullRequest filters are kept in the plan", () => {
    const on = {
      push: { branches: ["main"], tags: ["v*"], pathsIgnore: ["docs/**"] },
      pullRequest: { branches: ["main"], paths: ["src/**"] },
    };
    expect(compile(wf(on)).workflow.triggers).toEqual(on);
  });

  test("plan errors: a misspelled key, paths with pathsIgnore, only exclusions, not a list, an empty pattern", () => {
    expect(
      issuesOf(
        wf({
          push: { branch: ["main"] },
        }),
      ),
    ).toEqual([expect.stringMatching(/^on\.push: .*branch/)]);
    expect(issuesOf(wf({ push: { paths: ["a"], pathsIgnore: ["b"] } }))).toEqual([
      'on.push: use paths or pathsIgnore, not both (exclude with a "!" pattern in paths instead)',
    ]);
    expect(issuesOf(wf({ pullRequest: { branches: ["!main"] } }))).toEqual([
      'on.pullRequest.branches: every pattern starts with "!", so nothing can match; add what to include first, like "**"',
    ]);
    expect(issuesOf(wf({ push: { tags: "v*" } }))).toEqual(['on.push.tags: expected a list of glob patterns, got "v*"']);
    expect(issuesOf(wf({ pullRequest: { paths: [""] } }))).toEqual(["on.pullRequest.paths[0]: must not be empty"]);
  });
});
