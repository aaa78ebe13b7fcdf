/**
 * Per-repository webhook settings of `gantry server`: the secret a forge
 * signs deliveries with (`--hook-secret NAME=FILE`), and optionally a token
 * to report commit statuses with (`--status-token-file NAME=FILE`) and the
 * forge's API root (`--status-url NAME=URL`, default: GitHub's API, or the
 * Gitea/Forgejo/GitLab instance the payload names). Secrets are read from
 * files once at start, kept in memory only, and never returned by any route.
 */
import { readFileSync } from "node:fs";
import { GantryError } from "../../core/errors.js";

export interface RepoHookSettings {
  readonly secret?: string;
  readonly statusToken?: string;
  /** API root, like `https://api.github.com`, `https://gitea.example.com/api/v1`, `https://gitlab.example.com/api/v4`. */
  readonly statusUrl?: string;
}

export type HookSettings = ReadonlyMap<string, RepoHookSettings>;

function nameValue(flag: string, value: string): [string, string] {
  const eq = value.indexOf("=");
  const name = eq < 0 ? "" : value.slice(0, eq);
  const rest = eq < 0 ? "" : value.slice(eq + 1);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || rest === "")
    throw new GantryError(
      "USAGE",
      `${flag} ${value}: expected NAME=${flag === "--status-url" ? "URL" : "FILE"} with NAME a repository name`,
    );
  return [name, rest];
}

function readSecretFile(flag: string, name: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new GantryError("USAGE", `${flag} ${name}=${file}: cannot read the file (${(error as Error).message})`);
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret.trim() === "") throw new GantryError("USAGE", `${flag} ${name}=${file}: the file is empty`);
  return secret;
}

/** Build the settings from the flags; every NAME must be a registered repository. */
export function parseHookSettings(
  flags: { readonly hookSecret: readonly string[]; readonly statusTokenFile: readonly string[]; readonly statusUrl: readonly string[] },
  repoNames: readonly string[],
): HookSettings {
  const out = new Map<string, { secret?: string; statusToken?: string; statusUrl?: string }>();
  const entry = (flag: string, name: string) => {
    if (!repoNames.includes(name))
      throw new GantryError(
        "USAGE",
        `${flag} ${name}=...: no repository named "${name}" (known: ${repoNames.join(", ")}; add one with --repo)`,
      );
    let e = out.get(name);
    if (!e) out.set(name, (e = {}));
    return e;
  };
  for (const v of flags.hookSecret) {
    const [name, file] = nameValue("--hook-secret", v);
    entry("--hook-secret", name).secret = readSecretFile("--hook-secret", name, file);
  }
  for (const v of flags.statusTokenFile) {
    const [name, file] = nameValue("--status-token-file", v);
    entry("--status-token-file", name).statusToken = readSecretFile("--status-token-file", name, file);
  }
  for (const v of flags.statusUrl) {
    const [name, url] = nameValue("--status-url", v);
    if (!/^https?:\/\/[^/]/.test(url)) throw new GantryError("USAGE", `--status-url ${v}: expected an http(s) URL`);
    entry("--status-url", name).statusUrl = url.replace(/\/+$/, "");
  }
  return out;
}
