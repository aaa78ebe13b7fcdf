/**
 * Does a forge event start a workflow? Pure: the webhook side (server/hooks)
 * turns a delivery into a `TriggerEvent` (with the changed files it found in
 * the mirror) and asks `matchTrigger(plan.workflow.triggers, event)`.
 *
 * Semantics follow GitHub Actions (documented in docs/triggers.md):
 *
 * - Patterns are globs (picomatch, `dot: true`): `*` matches within one path
 *   segment, `**` across segments, `?`, `[abc]` and `{a,b}` as usual. A
 *   pattern starting with `!` excludes. Patterns are read in order and the
 *   LAST one that matches a name decides: `["releases/**", "!releases/**-alpha"]`
 *   matches `releases/1.0` but not `releases/1.0-alpha`.
 * - `push`: with `branches` only, tag pushes never match (and with `tags`
 *   only, branch pushes never do); with neither, every push matches. A
 *   deleted branch or tag matches nothing (the webhook side drops it).
 * - `paths`: at least one changed file matches; `pathsIgnore`: at least one
 *   changed file does NOT match (a push that only touches ignored files is
 *   skipped). Path filters are not evaluated for tag pushes. When the changed
 *   files are unknown (`changedFiles` undefined: a new branch whose first
 *   commit has no parent in the mirror, a force push the mirror cannot diff),
 *   path filters pass: the workflow runs rather than being skipped silently.
 * - `pullRequest`: `branches` match the pull request's BASE branch; `paths`
 *   its changed files (base...head).
 */
import picomatch from "picomatch";
import type { Triggers } from "./definition.js";

export type TriggerEvent =
  | {
      readonly kind: "push";
      /** `refs/heads/<branch>` or `refs/tags/<tag>`. */
      readonly ref: string;
      /** Paths relative to the repository root; undefined when unknown. */
      readonly changedFiles?: readonly string[];
    }
  | {
      readonly kind: "pullRequest";
      /** The branch the pull request targets. */
      readonly baseBranch: string;
      readonly changedFiles?: readonly string[];
    };

export interface TriggerMatch {
  readonly match: boolean;
  /** Why (for the delivery's record): "branch main matches on.push.branches", "no on.pullRequest", ... */
  readonly reason: string;
}

/** The compiled matcher of a pattern list: the last pattern that matches decides (a `!` pattern excludes). */
export function globFilter(patterns: readonly string[]): (name: string) => boolean {
  const compiled = patterns.map((p) => {
    const negated = p.startsWith("!");
    return { negated, test: picomatch(negated ? p.slice(1) : p, { dot: true }) };
  });
  return (name) => {
    let matched = false;
    for (const c of compiled) if (c.test(name)) matched = !c.negated;
    return matched;
  };
}

/** `patterns` needs at least one pattern that is not a `!` exclusion (else nothing could ever match). */
export function onlyExclusions(patterns: readonly string[]): boolean {
  return patterns.length > 0 && patterns.every((p) => p.startsWith("!"));
}

function pathsPass(
  where: string,
  filter: { readonly paths?: readonly string[]; readonly pathsIgnore?: readonly string[] },
  files: readonly string[] | undefined,
): TriggerMatch {
  if (!filter.paths && !filter.pathsIgnore) return { match: true, reason: "" };
  if (files === undefined) return { match: true, reason: `; the changed files are unknown, so ${where} path filters pass` };
  if (filter.paths) {
    const test = globFilter(filter.paths);
    const hit = files.find((f) => test(f));
    if (hit === undefined) return { match: false, reason: `no changed file matches ${where}.paths (${files.length} changed)` };
    return { match: true, reason: `; ${hit} matches ${where}.paths` };
  }
  const ignored = globFilter(filter.pathsIgnore ?? []);
  const kept = files.find((f) => !ignored(f));
  if (kept === undefined) return { match: false, reason: `every changed file matches ${where}.pathsIgnore (${files.length} changed)` };
  return { match: true, reason: `; ${kept} is not in ${where}.pathsIgnore` };
}

export function matchTrigger(triggers: Triggers, event: TriggerEvent): TriggerMatch {
  if (event.kind === "pullRequest") {
    const pr = triggers.pullRequest;
    if (!pr) return { match: false, reason: "the workflow has no on.pullRequest" };
    if (pr.branches && !globFilter(pr.branches)(event.baseBranch))
      return { match: false, reason: `base branch ${event.baseBranch} does not match on.pullRequest.branches` };
    const paths = pathsPass("on.pullRequest", pr, event.changedFiles);
    if (!paths.match) return paths;
    return { match: true, reason: `pull request to ${event.baseBranch} matches on.pullRequest${paths.reason}` };
  }
  const push = triggers.push;
  if (!push) return { match: false, reason: "the workflow has no on.push" };
  const tag = event.ref.startsWith("refs/tags/") ? event.ref.slice("refs/tags/".length) : undefined;
  const branch = event.ref.startsWith("refs/heads/") ? event.ref.slice("refs/heads/".length) : undefined;
  if (tag !== undefined) {
    if (push.tags) {
      if (!globFilter(push.tags)(tag)) return { match: false, reason: `tag ${tag} does not match on.push.tags` };
      return { match: true, reason: `tag ${tag} matches on.push.tags` };
    }
    if (push.branches) return { match: false, reason: `tag ${tag}: on.push has branches and no tags` };
    return { match: true, reason: `tag ${tag}: on.push has no branch or tag filter` };
  }
  if (branch === undefined) return { match: false, reason: `ref ${event.ref} is neither a branch nor a tag` };
  if (push.branches) {
    if (!globFilter(push.branches)(branch)) return { match: false, reason: `branch ${branch} does not match on.push.branches` };
  } else if (push.tags) return { match: false, reason: `branch ${branch}: on.push has tags and no branches` };
  const paths = pathsPass("on.push", push, event.changedFiles);
  if (!paths.match) return paths;
  return { match: true, reason: `branch ${branch} matches on.push${paths.reason}` };
}
