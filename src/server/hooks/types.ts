/**
 * What the webhook side knows about a forge: how it names its headers, how
 * it signs a delivery and how its payloads say what happened. One
 * `HookProvider` per forge (`github.ts`, `gitea.ts` for Gitea and Forgejo,
 * `gitlab.ts`); the route (`receive.ts`) and the processor
 * (`processor.ts`) only see the normalised `HookEvent`.
 */

/** Headers as a lookup (case-insensitive, like `Headers.get`). */
export type HeaderGet = (name: string) => string | null | undefined;

/** The repository as the forge names it, for commit statuses and the run's record. */
export interface ForgeRepo {
  /** `owner/name` (GitLab: `group/project`). */
  readonly fullName: string;
  /** GitLab's numeric project id (its status API takes it). */
  readonly projectId?: number;
  /** The repository's web page, to derive the API root from. */
  readonly htmlUrl?: string;
}

export type HookEvent =
  | { readonly kind: "ping"; readonly repository?: ForgeRepo; readonly sender?: string }
  | {
      readonly kind: "push";
      /** `refs/heads/<branch>` or `refs/tags/<tag>`. */
      readonly ref: string;
      /** The commit before the push (all zeros for a new branch or tag). */
      readonly before: string;
      /** The pushed commit (all zeros when the ref was deleted). */
      readonly after: string;
      readonly deleted: boolean;
      readonly sender?: string;
      readonly repository: ForgeRepo;
      /** Files added, modified or removed by the payload's commits; undefined when it lists none. */
      readonly files?: readonly string[];
    }
  | {
      readonly kind: "pull_request";
      /** Normalised: opened, synchronize, reopened (others are `ignored`). */
      readonly action: "opened" | "synchronize" | "reopened";
      readonly number: number;
      readonly baseBranch: string;
      readonly baseSha?: string;
      readonly headBranch: string;
      readonly headSha: string;
      readonly sender?: string;
      readonly repository: ForgeRepo;
    }
  | { readonly kind: "ignored"; readonly event: string; readonly reason: string };

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface HookProvider {
  /** `github`, `gitea`, `forgejo`, `gitlab`: the `{provider}` of the hook URL. */
  readonly name: string;
  /** The provider's event name from the headers ("push", "Push Hook", ...), or undefined. */
  event(header: HeaderGet): string | undefined;
  /** The provider's delivery id from the headers, or undefined. */
  deliveryId(header: HeaderGet): string | undefined;
  /** Check the delivery's signature (or token) over the RAW body, in constant time. */
  verify(header: HeaderGet, body: Buffer, secret: string): SignatureCheck;
  /** The event of a verified delivery; `payload` is the parsed JSON body. Throws on a payload it cannot read. */
  parse(event: string, payload: unknown): HookEvent;
}

export const ZERO_SHA = /^0+$/;

/** A field of a payload object (`undefined` when any step is missing). */
export function field(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

export function text(value: unknown, ...path: string[]): string | undefined {
  const v = field(value, ...path);
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function requireText(value: unknown, what: string, ...path: string[]): string {
  const v = text(value, ...path);
  if (v === undefined) throw new Error(`the payload has no ${what} (${path.join(".")})`);
  return v;
}

/** Files added, modified or removed by a push payload's `commits` (GitHub, Gitea, Forgejo, GitLab all use these keys). */
export function commitFiles(payload: unknown): string[] | undefined {
  const commits = field(payload, "commits");
  if (!Array.isArray(commits) || commits.length === 0) return undefined;
  const files = new Set<string>();
  for (const c of commits)
    for (const key of ["added", "modified", "removed"]) {
      const list = field(c, key);
      if (Array.isArray(list)) for (const f of list) if (typeof f === "string") files.add(f);
    }
  return [...files];
}
