/**
 * Gitea and Forgejo webhooks. Both sign the raw body with HMAC-SHA256 in
 * `X-Gitea-Signature` (Forgejo also `X-Forgejo-Signature`) as bare hex, and
 * send `X-Hub-Signature-256` like GitHub too; the first of these present is
 * checked. Events and delivery ids: `X-Forgejo-Event`/`X-Gitea-Event`,
 * `X-Forgejo-Delivery`/`X-Gitea-Delivery`. Payloads are GitHub-shaped
 * (https://docs.gitea.com/usage/webhooks, https://forgejo.org/docs/latest/user/webhooks/);
 * a pull request update is `synchronized`.
 */
import { parseGithubShaped } from "./github.js";
import { checkHmac } from "./signature.js";
import type { HeaderGet, HookProvider } from "./types.js";

function giteaLike(name: string, prefixes: readonly string[]): HookProvider {
  const first = (h: HeaderGet, names: readonly string[]): [string, string] | undefined => {
    for (const n of names) {
      const v = h(n);
      if (v) return [n, v];
    }
    return undefined;
  };
  return {
    name,
    event: (h) => first(h, [...prefixes.map((p) => `x-${p}-event`), "x-github-event"])?.[1],
    deliveryId: (h) => first(h, [...prefixes.map((p) => `x-${p}-delivery`), "x-github-delivery"])?.[1],
    verify(h, body, secret) {
      const found = first(h, [...prefixes.map((p) => `x-${p}-signature`), "x-hub-signature-256"]);
      if (!found)
        return {
          ok: false,
          reason: `no ${prefixes.map((p) => `X-${p[0]?.toUpperCase()}${p.slice(1)}-Signature`).join(", ")} or X-Hub-Signature-256 header`,
        };
      return checkHmac(found[0], found[1], secret, body);
    },
    parse: parseGithubShaped,
  };
}

export const gitea: HookProvider = giteaLike("gitea", ["gitea"]);
export const forgejo: HookProvider = giteaLike("forgejo", ["forgejo", "gitea"]);
