/**
 * GitLab webhooks: `X-Gitlab-Event` ("Push Hook", "Tag Push Hook", "Merge
 * Request Hook"), the secret token in `X-Gitlab-Token` (GitLab does not sign
 * the body: the token proves the sender, the delivery id and the body hash
 * guard against replays), and the delivery id in `Idempotency-Key` (the same
 * on GitLab's retries) or `X-Gitlab-Event-UUID`. Payloads:
 * https://docs.gitlab.com/user/project/integrations/webhook_events/
 */
import { checkToken } from "./signature.js";
import { commitFiles, field, requireText, text, ZERO_SHA, type ForgeRepo, type HookEvent, type HookProvider } from "./types.js";

function gitlabRepo(payload: unknown): ForgeRepo {
  const id = field(payload, "project", "id") ?? field(payload, "project_id");
  const htmlUrl = text(payload, "project", "web_url");
  return {
    fullName: requireText(payload, "project path", "project", "path_with_namespace"),
    ...(typeof id === "number" ? { projectId: id } : {}),
    ...(htmlUrl ? { htmlUrl } : {}),
  };
}

function parse(event: string, payload: unknown): HookEvent {
  const kind = text(payload, "object_kind");
  if (kind === "push" || kind === "tag_push") {
    const after = requireText(payload, "pushed commit", "after");
    const sender = text(payload, "user_username") ?? text(payload, "user_name");
    const files = commitFiles(payload);
    return {
      kind: "push",
      ref: requireText(payload, "ref", "ref"),
      before: text(payload, "before") ?? "0".repeat(40),
      after,
      deleted: ZERO_SHA.test(after),
      repository: gitlabRepo(payload),
      ...(sender ? { sender } : {}),
      ...(files ? { files } : {}),
    };
  }
  if (kind === "merge_request") {
    const action = text(payload, "object_attributes", "action") ?? "";
    // "update" is a new push only when `oldrev` is there (else a title, label or assignee change).
    const normal =
      action === "open"
        ? "opened"
        : action === "reopen"
          ? "reopened"
          : action === "update" && text(payload, "object_attributes", "oldrev")
            ? "synchronize"
            : undefined;
    if (!normal)
      return {
        kind: "ignored",
        event,
        reason: `merge request action "${action}" starts nothing (open, reopen, and update with new commits do)`,
      };
    const sender = text(payload, "user", "username");
    const iid = field(payload, "object_attributes", "iid");
    return {
      kind: "pull_request",
      action: normal,
      number: typeof iid === "number" ? iid : 0,
      baseBranch: requireText(payload, "target branch", "object_attributes", "target_branch"),
      headBranch: requireText(payload, "source branch", "object_attributes", "source_branch"),
      headSha: requireText(payload, "last commit", "object_attributes", "last_commit", "id"),
      repository: gitlabRepo(payload),
      ...(sender ? { sender } : {}),
    };
  }
  return {
    kind: "ignored",
    event,
    reason: `the event "${event}" starts nothing (Push Hook, Tag Push Hook and Merge Request Hook are handled)`,
  };
}

export const gitlab: HookProvider = {
  name: "gitlab",
  event: (h) => h("x-gitlab-event") ?? undefined,
  deliveryId: (h) => h("idempotency-key") ?? h("x-gitlab-event-uuid") ?? undefined,
  verify(h, _body, secret) {
    const given = h("x-gitlab-token");
    if (!given) return { ok: false, reason: "no X-Gitlab-Token header" };
    return checkToken("X-Gitlab-Token", given, secret);
  },
  parse,
};
