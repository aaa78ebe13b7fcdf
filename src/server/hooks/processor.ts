/**
 * The webhook processor: turns stored deliveries into runs, after the 202.
 * Work comes from the store (`store.hooks.claim`, a lease per delivery), not
 * from memory: a delivery stored by a server that crashed before (or while)
 * processing it is claimed again once its lease expires, by any server.
 *
 * For a push or a pull request: fetch the mirror and pin the pushed commit
 * (`RepoRegistry.resolve`), unpack its tree, find what changed (`git diff`
 * of before..after in the mirror, or base...head for a pull request; the
 * payload's commit file lists when the mirror cannot tell), then compile
 * each `.gantry/*.ts` of THAT commit and start every workflow whose `on`
 * matches (`core/triggers.ts`). Run ids are derived from the delivery and
 * the workflow file, so processing a delivery twice starts nothing twice.
 * A failure to fetch is retried with backoff (5 tries); a workflow that
 * does not compile is recorded in the delivery's result and skipped.
 */
import { createHash } from "node:crypto";
import { coerceError } from "../../core/errors.js";
import { matchTrigger, type TriggerEvent } from "../../core/triggers.js";
import { discoverWorkflows } from "../../loader/load.js";
import type { Orchestrator } from "../../queue/api.js";
import type { HookDeliveryRecord } from "../../store/hooks.js";
import type { Store } from "../../store/store.js";
import type { RepoRegistry } from "../git/repos.js";
import { compileTreeFile } from "../workflows.js";
import type { HookSettings } from "./config.js";
import { statusApi, type StatusTarget } from "./status.js";
import { ZERO_SHA, type HookEvent } from "./types.js";

export interface HookProcessorOptions {
  readonly store: Store;
  readonly repos: RepoRegistry;
  readonly orchestrator: Orchestrator;
  readonly settings: HookSettings;
  readonly stateDir: string;
  /** Who claims (default host:pid). */
  readonly holder: string;
  /** How long a claim lasts before another server may take the delivery over (default 5 min). */
  readonly leaseMs?: number;
  /** Polling interval when idle (default 1 s); `wake()` starts at once. */
  readonly pollMs?: number;
  /** Tries of a delivery whose repository cannot be fetched (default 5). */
  readonly maxTries?: number;
  readonly onError?: (error: Error, delivery?: HookDeliveryRecord) => void;
  readonly onProcessed?: (delivery: HookDeliveryRecord, result: DeliveryResult) => void;
}

export interface DeliveryResult {
  readonly message: string;
  readonly commit?: string;
  readonly runs: readonly { readonly id: string; readonly workflow: string; readonly file: string }[];
  readonly skipped: readonly { readonly workflow: string; readonly file: string; readonly reason: string }[];
  readonly errors: readonly { readonly file: string; readonly error: string }[];
}

export interface HookProcessor {
  /** Look for work now (after a delivery was stored in this process). */
  wake(): void;
  stop(): Promise<void>;
}

/** `20261202-031502-<12 hex of delivery + file>`: sortable like other run ids, the same for the same delivery and workflow. */
export function hookRunId(delivery: HookDeliveryRecord, file: string): string {
  const iso = new Date(delivery.receivedAt).toISOString();
  const hash = createHash("sha256").update(`${delivery.id}\0${file}`).digest("hex").slice(0, 12);
  return `${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}-${hash}`;
}

const nothing = (message: string): DeliveryResult => ({ message, runs: [], skipped: [], errors: [] });

export async function processDelivery(options: HookProcessorOptions, delivery: HookDeliveryRecord): Promise<DeliveryResult> {
  const event = delivery.event as HookEvent;
  if (event.kind === "ping") return nothing("ping: the webhook works");
  if (event.kind === "ignored") return nothing(event.reason);
  if (event.kind === "push" && event.deleted) return nothing(`${event.ref} was deleted: nothing to run`);

  const { repos, store } = options;
  const sha = event.kind === "push" ? event.after : event.headSha;
  const pinned = await repos.resolve(delivery.repo, sha);
  const tree = await repos.checkout(pinned);

  let trigger: TriggerEvent;
  let ref: string;
  if (event.kind === "push") {
    ref = event.ref.replace(/^refs\/(heads|tags)\//, "");
    let files: readonly string[] | undefined;
    if (!event.ref.startsWith("refs/tags/")) {
      files = ZERO_SHA.test(event.before) ? undefined : await repos.changedFiles(delivery.repo, event.before, pinned.commit);
      files ??= event.files;
    }
    trigger = { kind: "push", ref: event.ref, ...(files ? { changedFiles: files } : {}) };
  } else {
    ref = event.headBranch;
    const files = await repos.changedFiles(delivery.repo, event.baseSha ?? `refs/heads/${event.baseBranch}`, pinned.commit, {
      since: true,
    });
    trigger = { kind: "pullRequest", baseBranch: event.baseBranch, ...(files ? { changedFiles: files } : {}) };
  }

  const runs: { id: string; workflow: string; file: string }[] = [];
  const skipped: { workflow: string; file: string; reason: string }[] = [];
  const errors: { file: string; error: string }[] = [];
  const repoSettings = options.settings.get(delivery.repo);
  const api = repoSettings?.statusToken ? statusApi(delivery.provider, event.repository, repoSettings.statusUrl) : undefined;
  for (const file of await discoverWorkflows(tree.dir)) {
    let compiled;
    try {
      compiled = await compileTreeFile(tree.dir, options.stateDir, file);
    } catch (error) {
      errors.push({ file, error: coerceError(error).message });
      continue;
    }
    const { loaded, plan } = compiled;
    const match = matchTrigger(plan.workflow.triggers, trigger);
    if (!match.match) {
      skipped.push({ workflow: plan.workflow.name, file: loaded.file, reason: match.reason });
      continue;
    }
    const runId = hookRunId(delivery, loaded.file);
    if (api) {
      const target: StatusTarget = {
        provider: delivery.provider,
        repo: delivery.repo,
        api,
        repository: event.repository,
        sha: pinned.commit,
        ref,
        context: `gantry/${plan.workflow.name}`,
      };
      // Before the run exists: the reporter only sees rows whose run does, so a crash in between loses nothing.
      await store.hooks.addStatus({ runId, deliveryId: delivery.id, target });
    }
    await store.plans.putBundle(loaded.bundleHash, loaded.source);
    const by = `hook:${delivery.provider}`;
    await options.orchestrator.submit(
      {
        repo: delivery.repo,
        workflow: plan.workflow.name,
        file: loaded.file,
        plan,
        bundleHash: loaded.bundleHash,
        snapshot: tree.snapshot,
        commit: pinned.commit,
        ref,
        trigger: {
          kind: "hook",
          by,
          event: event.kind,
          delivery: delivery.id,
          ...(event.sender ? { sender: event.sender } : {}),
          ...(event.kind === "pull_request" ? { pullRequest: event.number } : {}),
        },
        runId,
      },
      {
        actor: by,
        action: "run.trigger",
        target: runId,
        detail: { repo: delivery.repo, workflow: plan.workflow.name, commit: pinned.commit, delivery: delivery.id, event: event.kind },
      },
    );
    runs.push({ id: runId, workflow: plan.workflow.name, file: loaded.file });
  }
  const what = event.kind === "push" ? `push to ${event.ref}` : `pull request #${event.number} (${event.action})`;
  return {
    message: `${what} at ${pinned.commit.slice(0, 12)}: ${runs.length} run(s) started`,
    commit: pinned.commit,
    runs,
    skipped,
    errors,
  };
}

export function startHookProcessor(options: HookProcessorOptions): HookProcessor {
  const leaseMs = options.leaseMs ?? 300_000;
  const pollMs = options.pollMs ?? 1000;
  const maxTries = options.maxTries ?? 5;
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let pending = false;

  const sleep = (): Promise<void> =>
    new Promise((resolve) => {
      if (pending || stopped) return resolve();
      const timer = setTimeout(resolve, pollMs);
      timer.unref();
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function once(): Promise<boolean> {
    pending = false;
    const delivery = await options.store.hooks.claim(options.holder, leaseMs);
    if (!delivery) return false;
    try {
      const result = await processDelivery(options, delivery);
      await options.store.hooks.settle(delivery.id, options.holder, { state: "done", result });
      options.onProcessed?.(delivery, result);
    } catch (error) {
      const e = coerceError(error);
      options.onError?.(e, delivery);
      // Every failure is retried a few times: a forge may announce a commit before its mirror serves it.
      if (delivery.attempts < maxTries)
        await options.store.hooks.settle(delivery.id, options.holder, {
          state: "pending",
          runAfter: Date.now() + Math.min(1000 * 2 ** delivery.attempts, 60_000),
          result: { message: `attempt ${delivery.attempts} failed, will retry: ${e.message}` },
        });
      else await options.store.hooks.settle(delivery.id, options.holder, { state: "failed", result: nothing(e.message) });
    }
    return true;
  }

  const loop = (async () => {
    while (!stopped) {
      let worked = false;
      try {
        worked = await once();
      } catch (error) {
        options.onError?.(coerceError(error));
      }
      if (!worked && !stopped) await sleep();
    }
  })();

  return {
    wake() {
      pending = true;
      wakeUp?.();
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
    },
  };
}
