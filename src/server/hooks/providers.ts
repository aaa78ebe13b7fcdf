/** The forges webhooks are accepted from, by the `{provider}` of `/api/v1/hooks/{provider}/{repo}`. */
import { forgejo, gitea } from "./gitea.js";
import { github } from "./github.js";
import { gitlab } from "./gitlab.js";
import type { HookProvider } from "./types.js";

export const HOOK_PROVIDERS: ReadonlyMap<string, HookProvider> = new Map([github, gitea, forgejo, gitlab].map((p) => [p.name, p]));
