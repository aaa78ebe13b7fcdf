/**
 * Commit statuses back to the forge, for runs a webhook started, when the
 * repository has a status token (`--status-token-file NAME=FILE`). A durable
 * outbox (`store.hooks` statuses): the processor queues a row per run with
 * where to report; `startStatusReporter` posts `pending` while the run runs
 * and `success`/`failure` once it ends, from any server process, retrying a
 * failed post with exponential backoff (1 s, 2 s, 4 s ... at most 5 min, 8
 * tries, then it gives up on that state). A post never blocks or fails the
 * run: the run does not wait for it, and a forge that is down only delays
 * the status. Several servers may post the same state twice: the forges'
 * status APIs keep the last one per context, so that is harmless.
 *
 * Request shapes (`statusRequest`, pure):
 * - GitHub: `POST {api}/repos/{owner}/{repo}/statuses/{sha}`, `Authorization: Bearer`,
 *   `{ state: pending|success|failure, context, description }`.
 * - Gitea/Forgejo: `POST {api}/repos/{owner}/{repo}/statuses/{sha}`, `Authorization: token`,
 *   the same body.
 * - GitLab: `POST {api}/projects/{id}/statuses/{sha}`, `PRIVATE-TOKEN`,
 *   `{ state: pending|success|failed|canceled, name, description, ref }`.
 */
import { coerceError } from "../../core/errors.js";
import type { Store } from "../../store/store.js";
import type { HookSettings } from "./config.js";
import type { ForgeRepo } from "./types.js";

export interface StatusTarget {
  readonly provider: string;
  /** The server's repository name (its token is in the settings, never in the store). */
  readonly repo: string;
  /** API root. */
  readonly api: string;
  readonly repository: ForgeRepo;
  readonly sha: string;
  /** Branch or tag name, for GitLab's `ref`. */
  readonly ref?: string;
  /** `gantry/<workflow>`. */
  readonly context: string;
}

export type CommitState = "pending" | "success" | "failure";

/** The API root a status goes to: `--status-url`, else GitHub's API or the instance of the payload's repository. */
export function statusApi(provider: string, repository: ForgeRepo, configured: string | undefined): string | undefined {
  if (configured) return configured;
  if (provider === "github") return "https://api.github.com";
  if (!repository.htmlUrl) return undefined;
  const origin = new URL(repository.htmlUrl).origin;
  return provider === "gitlab" ? `${origin}/api/v4` : `${origin}/api/v1`;
}

export function runCommitState(runStatus: string): CommitState {
  return runStatus === "running" ? "pending" : runStatus === "success" ? "success" : "failure";
}

const DESCRIPTION: Record<string, string> = {
  running: "running on Gantry",
  success: "succeeded on Gantry",
  failure: "failed on Gantry",
  cancelled: "cancelled on Gantry",
  interrupted: "interrupted on Gantry",
};

/** The HTTP request that reports `runStatus` for `target` (pure). */
export function statusRequest(
  target: StatusTarget,
  runStatus: string,
  token: string,
): { url: string; method: "POST"; headers: Record<string, string>; body: Record<string, unknown> } {
  const description = DESCRIPTION[runStatus] ?? runStatus;
  const state = runCommitState(runStatus);
  if (target.provider === "gitlab") {
    const project = target.repository.projectId ?? encodeURIComponent(target.repository.fullName);
    return {
      url: `${target.api}/projects/${project}/statuses/${target.sha}`,
      method: "POST",
      headers: { "content-type": "application/json", "private-token": token },
      body: {
        state: state === "failure" ? (runStatus === "cancelled" ? "canceled" : "failed") : state,
        name: target.context,
        description,
        ...(target.ref ? { ref: target.ref } : {}),
      },
    };
  }
  const [owner, name] = target.repository.fullName.split("/");
  const path = `/repos/${encodeURIComponent(owner ?? "")}/${encodeURIComponent(name ?? "")}/statuses/${target.sha}`;
  return {
    url: `${target.api}${path}`,
    method: "POST",
    headers:
      target.provider === "github"
        ? {
            "content-type": "application/json",
            authorization: `Bearer ${token}`,
            accept: "application/vnd.github+json",
            "x-github-api-version": "2022-11-28",
            "user-agent": "gantry",
          }
        : { "content-type": "application/json", authorization: `token ${token}` },
    body: { state, context: target.context, description },
  };
}

export interface StatusReporterOptions {
  readonly store: Store;
  readonly settings: HookSettings;
  readonly pollMs?: number;
  /** Give up on a state after this many failed posts (default 8). */
  readonly maxTries?: number;
  readonly onError?: (error: Error) => void;
  readonly now?: () => number;
}

export function backoffMs(tries: number): number {
  return Math.min(1000 * 2 ** Math.max(0, tries - 1), 300_000);
}

export interface StatusReporter {
  /** One pass over the due rows (tests call it). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export function startStatusReporter(options: StatusReporterOptions): StatusReporter {
  const now = options.now ?? Date.now;
  const maxTries = options.maxTries ?? 8;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  async function post(target: StatusTarget, runStatus: string, token: string): Promise<void> {
    const req = statusRequest(target, runStatus, token);
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: JSON.stringify(req.body),
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel().catch(() => undefined);
    if (!res.ok) throw new Error(`${target.provider} status API answered ${res.status} for ${req.url}`);
  }

  async function tick(): Promise<void> {
    for (const row of await options.store.hooks.dueStatuses(now())) {
      if (stopped) return;
      const target = row.target as StatusTarget;
      const state = runCommitState(row.runStatus);
      const token = options.settings.get(target.repo)?.statusToken;
      if (!token) {
        await options.store.hooks.statusReported(row.runId, { reported: "abandoned" });
        continue;
      }
      try {
        await post(target, row.runStatus, token);
        await options.store.hooks.statusReported(row.runId, { reported: state });
      } catch (error) {
        const tries = row.attempts + 1;
        options.onError?.(coerceError(error));
        if (tries >= maxTries)
          // Giving up on `pending` still lets the final state be tried; giving up on a final state ends the row.
          await options.store.hooks.statusReported(row.runId, { reported: state === "pending" ? "pending" : "abandoned" });
        else await options.store.hooks.statusReported(row.runId, { error: coerceError(error).message, nextAt: now() + backoffMs(tries) });
      }
    }
  }

  let busy = false;
  const once = (): Promise<void> => {
    if (busy) return running;
    busy = true;
    running = tick()
      .catch((error: unknown) => options.onError?.(coerceError(error)))
      .finally(() => (busy = false));
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped) void once();
  }, options.pollMs ?? 1000);
  timer.unref();
  return {
    tick: once,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
