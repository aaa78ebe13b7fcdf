/**
 * GitHub webhooks: `X-GitHub-Event`, `X-GitHub-Delivery`, and
 * `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body>`. Payloads:
 * https://docs.github.com/en/webhooks/webhook-events-and-payloads
 * (`push`, `pull_request`, `ping`). Gitea and Forgejo send the same shapes
 * (`gitea.ts` reuses the parsing).
 */
import { checkHmac } from "./signature.js";
import { commitFiles, field, requireText, text, ZERO_SHA, type ForgeRepo, type HookEvent, type HookProvider } from "./types.js";

export function githubRepo(payload: unknown): ForgeRepo {
  const htmlUrl = text(payload, "repository", "html_url");
  return { fullName: requireText(payload, "repository name", "repository", "full_name"), ...(htmlUrl ? { htmlUrl } : {}) };
}

const PR_ACTIONS: Record<string, "opened" | "synchronize" | "reopened"> = {
  opened: "opened",
  reopened: "reopened",
  synchronize: "synchronize",
  // Gitea and Forgejo say "synchronized".
  synchronized: "synchronize",
};

/** Parse a GitHub-shaped payload (`push`, `pull_request`, `ping`); `sender` is the login that caused it. */
export function parseGithubShaped(event: string, payload: unknown): HookEvent {
  const sender = text(payload, "sender", "login") ?? text(payload, "sender", "username") ?? text(payload, "pusher", "name");
  const who = sender ? { sender } : {};
  if (event === "ping") {
    const repository = text(payload, "repository", "full_name") ? githubRepo(payload) : undefined;
    return { kind: "ping", ...(repository ? { repository } : {}), ...who };
  }
  if (event === "push") {
    const after = requireText(payload, "pushed commit", "after");
    const files = commitFiles(payload);
    return {
      kind: "push",
      ref: requireText(payload, "ref", "ref"),
      before: text(payload, "before") ?? "0".repeat(40),
      after,
      deleted: field(payload, "deleted") === true || ZERO_SHA.test(after),
      repository: githubRepo(payload),
      ...who,
      ...(files ? { files } : {}),
    };
  }
  if (event === "pull_request") {
    const raw = text(payload, "action") ?? "";
    const action = PR_ACTIONS[raw];
    if (!action)
      return { kind: "ignored", event, reason: `pull request action "${raw}" starts nothing (opened, synchronize, reopened do)` };
    const baseSha = text(payload, "pull_request", "base", "sha");
    const number = field(payload, "pull_request", "number") ?? field(payload, "number");
    return {
      kind: "pull_request",
      action,
      number: typeof number === "number" ? number : 0,
      baseBranch: requireText(payload, "base branch", "pull_request", "base", "ref"),
      ...(baseSha ? { baseSha } : {}),
      headBranch: requireText(payload, "head branch", "pull_request", "head", "ref"),
      headSha: requireText(payload, "head commit", "pull_request", "head", "sha"),
      repository: githubRepo(payload),
      ...who,
    };
  }
  return { kind: "ignored", event, reason: `the event "${event}" starts nothing (push, pull_request and ping are handled)` };
}

export const github: HookProvider = {
  name: "github",
  event: (h) => h("x-github-event") ?? undefined,
  deliveryId: (h) => h("x-github-delivery") ?? undefined,
  verify(h, body, secret) {
    const given = h("x-hub-signature-256");
    if (!given) return { ok: false, reason: "no X-Hub-Signature-256 header" };
    return checkHmac("X-Hub-Signature-256", given, secret, body);
  },
  parse: parseGithubShaped,
};
