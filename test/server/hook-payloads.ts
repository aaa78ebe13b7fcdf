/**
 * Webhook deliveries as the forges send them: payload shapes from the
 * providers' documentation (GitHub "Webhook events and payloads", Gitea and
 * Forgejo "Webhooks", GitLab "Webhook events"), trimmed of fields Gantry
 * does not read but keeping their structure, and the headers each forge
 * sets, signed with `secret`.
 */
import { createHmac, randomUUID } from "node:crypto";

export type Provider = "github" | "gitea" | "forgejo" | "gitlab";

export interface PushSpec {
  readonly ref: string;
  readonly before: string;
  readonly after: string;
  readonly owner?: string;
  readonly name?: string;
  readonly files?: { added?: string[]; modified?: string[]; removed?: string[] };
  readonly sender?: string;
}

const sig = (secret: string, body: string): string => createHmac("sha256", secret).update(body).digest("hex");

function githubUser(login: string) {
  return {
    login,
    id: 21031067,
    node_id: "MDQ6VXNlcjIxMDMxMDY3",
    avatar_url: "https://avatars.githubusercontent.com/u/21031067?v=4",
    type: "User",
    site_admin: false,
  };
}

function githubRepository(owner: string, name: string) {
  return {
    id: 186853002,
    node_id: "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
    name,
    full_name: `${owner}/${name}`,
    private: false,
    owner: { name: owner, email: null, ...githubUser(owner) },
    html_url: `https://github.com/${owner}/${name}`,
    url: `https://github.com/${owner}/${name}`,
    default_branch: "main",
    master_branch: "main",
  };
}

function commit(spec: PushSpec, base: string) {
  return {
    id: spec.after,
    tree_id: "f9d2a07e9488b91af2641b26b9407fe22a451433",
    distinct: true,
    message: "Update the code",
    timestamp: "2026-12-02T13:00:00Z",
    url: `${base}/commit/${spec.after}`,
    author: { name: "Mona", email: "mona@example.com", username: spec.sender ?? "mona" },
    committer: { name: "Mona", email: "mona@example.com", username: spec.sender ?? "mona" },
    added: spec.files?.added ?? [],
    removed: spec.files?.removed ?? [],
    modified: spec.files?.modified ?? [],
  };
}

/** GitHub `push` (https://docs.github.com/en/webhooks/webhook-events-and-payloads#push). */
export function githubPush(spec: PushSpec): Record<string, unknown> {
  const owner = spec.owner ?? "Codertocat";
  const name = spec.name ?? "Hello-World";
  const c = commit(spec, `https://github.com/${owner}/${name}`);
  return {
    ref: spec.ref,
    before: spec.before,
    after: spec.after,
    repository: githubRepository(owner, name),
    pusher: { name: spec.sender ?? "mona", email: "mona@example.com" },
    sender: githubUser(spec.sender ?? "mona"),
    created: /^0+$/.test(spec.before),
    deleted: /^0+$/.test(spec.after),
    forced: false,
    base_ref: null,
    compare: `https://github.com/${owner}/${name}/compare/${spec.before.slice(0, 12)}...${spec.after.slice(0, 12)}`,
    commits: spec.files ? [c] : [],
    head_commit: c,
  };
}

/** Gitea/Forgejo `push` (https://docs.gitea.com/usage/webhooks#event-information). */
export function giteaPush(spec: PushSpec, host = "https://gitea.example.com"): Record<string, unknown> {
  const owner = spec.owner ?? "gitea";
  const name = spec.name ?? "webhooks";
  const user = { id: 1, login: spec.sender ?? "gitea", full_name: "Gitea", email: "someone@gitea.io", username: spec.sender ?? "gitea" };
  return {
    ref: spec.ref,
    before: spec.before,
    after: spec.after,
    compare_url: `${host}/${owner}/${name}/compare/${spec.before}...${spec.after}`,
    commits: spec.files ? [commit(spec, `${host}/${owner}/${name}`)] : [],
    total_commits: spec.files ? 1 : 0,
    head_commit: commit(spec, `${host}/${owner}/${name}`),
    repository: {
      id: 140,
      owner: user,
      name,
      full_name: `${owner}/${name}`,
      private: false,
      html_url: `${host}/${owner}/${name}`,
      clone_url: `${host}/${owner}/${name}.git`,
      default_branch: "main",
    },
    pusher: user,
    sender: user,
  };
}

/** GitLab "Push Hook" / "Tag Push Hook" (https://docs.gitlab.com/user/project/integrations/webhook_events/#push-events). */
export function gitlabPush(spec: PushSpec, host = "https://gitlab.example.com"): Record<string, unknown> {
  const path = `${spec.owner ?? "mike"}/${spec.name ?? "diaspora"}`;
  const tag = spec.ref.startsWith("refs/tags/");
  return {
    object_kind: tag ? "tag_push" : "push",
    event_name: tag ? "tag_push" : "push",
    before: spec.before,
    after: spec.after,
    ref: spec.ref,
    ref_protected: true,
    checkout_sha: spec.after,
    user_id: 4,
    user_name: "John Smith",
    user_username: spec.sender ?? "jsmith",
    user_email: "john@example.com",
    project_id: 15,
    project: {
      id: 15,
      name: "Diaspora",
      web_url: `${host}/${path}`,
      git_http_url: `${host}/${path}.git`,
      namespace: path.split("/")[0],
      path_with_namespace: path,
      default_branch: "main",
    },
    commits: spec.files ? [commit(spec, `${host}/${path}`)] : [],
    total_commits_count: spec.files ? 1 : 0,
    repository: { name: "Diaspora", url: `git@example.com:${path}.git`, homepage: `${host}/${path}` },
  };
}

export interface PullSpec {
  readonly action: string;
  readonly number: number;
  readonly base: string;
  readonly baseSha: string;
  readonly head: string;
  readonly headSha: string;
}

/** GitHub `pull_request` (https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request); Gitea/Forgejo send the same shape. */
export function githubPull(spec: PullSpec): Record<string, unknown> {
  const repository = githubRepository("Codertocat", "Hello-World");
  return {
    action: spec.action,
    number: spec.number,
    pull_request: {
      number: spec.number,
      state: "open",
      title: "Update the README",
      user: githubUser("mona"),
      head: { label: `Codertocat:${spec.head}`, ref: spec.head, sha: spec.headSha, repo: repository },
      base: { label: `Codertocat:${spec.base}`, ref: spec.base, sha: spec.baseSha, repo: repository },
    },
    repository,
    sender: githubUser("mona"),
  };
}

/** GitLab "Merge Request Hook" (https://docs.gitlab.com/user/project/integrations/webhook_events/#merge-request-events). */
export function gitlabMerge(spec: PullSpec & { readonly oldrev?: string }, host = "https://gitlab.example.com"): Record<string, unknown> {
  const action = { opened: "open", reopened: "reopen", synchronize: "update" }[spec.action] ?? spec.action;
  return {
    object_kind: "merge_request",
    event_type: "merge_request",
    user: { id: 1, name: "Administrator", username: "root" },
    project: { id: 15, name: "Diaspora", web_url: `${host}/mike/diaspora`, path_with_namespace: "mike/diaspora", default_branch: "main" },
    object_attributes: {
      iid: spec.number,
      action,
      state: "opened",
      source_branch: spec.head,
      target_branch: spec.base,
      last_commit: { id: spec.headSha, message: "fixed readme" },
      ...(spec.oldrev ? { oldrev: spec.oldrev } : {}),
    },
  };
}

/** The headers a forge sends with a delivery of `event` ("push", "pull_request", "ping"), signed with `secret`. */
export function deliveryHeaders(
  provider: Provider,
  event: string,
  body: string,
  secret: string,
  delivery: string = randomUUID(),
): Record<string, string> {
  const base = { "content-type": "application/json", "user-agent": `${provider}-hookshot` };
  const hub = `sha256=${sig(secret, body)}`;
  switch (provider) {
    case "github":
      return {
        ...base,
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-github-hook-id": "292430182",
        "x-hub-signature-256": hub,
      };
    case "gitea":
      return {
        ...base,
        "x-gitea-event": event,
        "x-gitea-event-type": event,
        "x-gitea-delivery": delivery,
        "x-gitea-signature": sig(secret, body),
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": hub,
      };
    case "forgejo":
      return {
        ...base,
        "x-forgejo-event": event,
        "x-forgejo-delivery": delivery,
        "x-forgejo-signature": sig(secret, body),
        "x-gitea-event": event,
        "x-gitea-delivery": delivery,
        "x-gitea-signature": sig(secret, body),
        "x-hub-signature-256": hub,
      };
    case "gitlab": {
      const name = { push: "Push Hook", tag_push: "Tag Push Hook", pull_request: "Merge Request Hook" }[event] ?? event;
      return {
        ...base,
        "x-gitlab-event": name,
        "x-gitlab-token": secret,
        "x-gitlab-event-uuid": delivery,
        "idempotency-key": delivery,
        "x-gitlab-instance": "https://gitlab.example.com",
      };
    }
  }
}

export function pushPayload(provider: Provider, spec: PushSpec): Record<string, unknown> {
  return provider === "github" ? githubPush(spec) : provider === "gitlab" ? gitlabPush(spec) : giteaPush(spec);
}

/** The headers without any signature or token. */
export function unsigned(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !/signature|token/.test(k)));
}
