/**
 * Resolving a workflow's environment: its `env` providers, then the command
 * line's `--env-file`, `--secret-file`, `--env` and `--secret`.
 */
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, resolve as resolvePath } from "node:path";
import { parse as parseDotenv } from "dotenv";
import type { EnvProvider } from "../core/definition.js";
import { GantryError } from "../core/errors.js";
import { decryptSopsFile, sopsFormatOf } from "./sops.js";
import type { SopsFormat } from "./sops.js";

export interface ResolveEnvOptions {
  /** Repository root: provider paths are relative to it. */
  readonly repoDir: string;
  /** The workflow file as shown in messages, e.g. `.gantry/ci.ts`. */
  readonly workflowFile: string;
  readonly workflowName: string;
  /** The runner's environment: satisfies `required`, and gives gpg/sops their PATH and GNUPGHOME. */
  readonly processEnv: Readonly<Record<string, string | undefined>>;
  /** Command-line overrides. Relative file paths resolve against `repoDir` (the CLI passes absolute paths). */
  readonly cli?: {
    readonly envFiles?: readonly string[];
    readonly secretFiles?: readonly string[];
    readonly env?: Readonly<Record<string, string>>;
    readonly secrets?: Readonly<Record<string, string>>;
  };
  readonly signal?: AbortSignal;
}

export interface ResolvedEnv {
  /** Only the workflow's and the command line's variables; the engine merges the process env under them. */
  readonly values: Record<string, string>;
  /** Keys declared secret by any source (a secret stays secret when a later source overrides it). */
  readonly secretKeys: Set<string>;
  /** Values of `secretKeys`, distinct and non-empty: feed them to the redactor. */
  readonly secretValues: string[];
  /** Where each key's value came from: `static`, `file .env`, `sops secrets.enc.yaml`, `cli --env-file F`, `cli --secret-file F`, `cli --env`, `cli --secret`. */
  readonly sources: Record<string, string>;
}

interface Layer {
  readonly values: Readonly<Record<string, string>>;
  readonly secret: boolean;
  readonly source: string;
}

const invalid = (message: string): GantryError => new GantryError("ENV_INVALID", message);

/** A dotenv file; `undefined` when it is missing and `optional`. */
async function readDotenv(path: string, shown: string, where: string, optional: boolean): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && optional) return undefined;
    const why =
      code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a directory" : `cannot be read (${code ?? (error as Error).message})`;
    throw invalid(
      `${where}: env file ${shown} ${why}${optional ? "" : "; create it or mark it optional: env.file(path, { optional: true })"}.`,
    );
  }
  return parseDotenv(text);
}

function checkValues(values: unknown, where: string): Record<string, string> {
  if (typeof values !== "object" || values === null || Array.isArray(values))
    throw invalid(`${where}: env.static() takes an object of names to strings.`);
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== "string")
      throw invalid(`${where}: env.static() value of ${key} must be a string, not ${value === null ? "null" : typeof value}.`);
  }
  return values as Record<string, string>;
}

function checkPair(key: string, flag: string, where: string): void {
  if (key === "" || key.includes("=") || key.includes("\0"))
    throw invalid(`${where}: ${flag} needs NAME=VALUE, got the name ${JSON.stringify(key)}.`);
}

const isMissing = (value: string | undefined): boolean => value === undefined || value === "";

/**
 * Resolve the environment of one workflow. Later sources override earlier
 * ones, in this order (lowest first):
 *
 * 1. the workflow's providers, in the order written: `env.static`, `env.file`,
 *    `env.sops` (every value secret); `env.required` checks names at its place;
 * 2. `--env-file` files, in order;
 * 3. `--secret-file` files, in order (every value secret; `.yaml`/`.yml`/`.json`
 *    files and dotenv files with sops metadata are decrypted with sops);
 * 4. `--env NAME=VALUE`;
 * 5. `--secret NAME=VALUE` (secret).
 *
 * `env.required` names are satisfied by the process env, by a provider before
 * it, or by any command-line source; an empty value counts as missing. All
 * missing names are reported together as `ENV_MISSING`; bad files as `ENV_INVALID`.
 */
export async function resolveEnv(providers: readonly EnvProvider[], options: ResolveEnvOptions): Promise<ResolvedEnv> {
  const where = options.workflowFile;
  const inWorkflow = `${where}: workflow "${options.workflowName}"`;
  const fromRepo = (path: string): string => (isAbsolute(path) ? path : resolvePath(options.repoDir, path));
  const sops = (path: string, shown: string, format?: SopsFormat): Promise<Record<string, string>> =>
    decryptSopsFile(path, {
      env: options.processEnv,
      displayName: shown,
      ...(format && { format }),
      ...(options.signal && { signal: options.signal }),
    }).then((doc) => doc.env);

  // the command line first: `required` may be satisfied by it
  const cliLayers: Layer[] = [];
  const cli = options.cli ?? {};
  for (const file of cli.envFiles ?? []) {
    cliLayers.push({
      values: (await readDotenv(fromRepo(file), file, "command line (--env-file)", false))!,
      secret: false,
      source: `cli --env-file ${file}`,
    });
  }
  for (const file of cli.secretFiles ?? []) {
    const path = fromRepo(file);
    const values = await readSecretFile(path, file, sops);
    cliLayers.push({ values, secret: true, source: `cli --secret-file ${file}` });
  }
  for (const [flag, pairs, secret] of [
    ["--env", cli.env, false],
    ["--secret", cli.secrets, true],
  ] as const) {
    if (!pairs) continue;
    for (const key of Object.keys(pairs)) checkPair(key, flag, "command line");
    cliLayers.push({ values: pairs, secret, source: `cli ${flag}` });
  }
  const fromCli = (name: string): boolean => cliLayers.some((layer) => !isMissing(layer.values[name]));

  const values: Record<string, string> = {};
  const sources: Record<string, string> = {};
  const secretKeys = new Set<string>();
  const apply = (layer: Layer): void => {
    for (const [key, value] of Object.entries(layer.values)) {
      values[key] = value;
      sources[key] = layer.source;
      if (layer.secret) secretKeys.add(key);
    }
  };

  const missing: string[] = [];
  for (const [index, provider] of providers.entries()) {
    const at = `${inWorkflow}: env[${index}]`;
    switch (provider.kind) {
      case "static":
        apply({ values: checkValues(provider.values, at), secret: provider.secret === true, source: "static" });
        break;
      case "file": {
        const found = await readDotenv(fromRepo(provider.path), provider.path, inWorkflow, provider.optional === true);
        if (found) apply({ values: found, secret: provider.secret === true, source: `file ${provider.path}` });
        break;
      }
      case "sops": {
        const path = fromRepo(provider.path);
        if (provider.optional === true && !(await exists(path))) break;
        apply({ values: await sops(path, provider.path), secret: true, source: `sops ${provider.path}` });
        break;
      }
      case "required":
        for (const name of provider.names) {
          if (isMissing(options.processEnv[name]) && isMissing(values[name]) && !fromCli(name) && !missing.includes(name))
            missing.push(name);
        }
        break;
      default:
        throw invalid(`${at}: unknown env provider kind ${JSON.stringify((provider as { kind?: unknown }).kind)}.`);
    }
  }
  if (missing.length > 0) {
    const names = missing.join(", ");
    const hint = missing.length === 1 ? "it" : "them";
    const example = missing[0]!;
    throw new GantryError(
      "ENV_MISSING",
      `${inWorkflow} needs ${names}; set ${hint} in the environment or pass --env ${example}=... / --secret ${example}=...`,
    );
  }
  for (const layer of cliLayers) apply(layer);

  const secretValues = [...new Set([...secretKeys].map((key) => values[key] ?? "").filter((value) => value !== ""))];
  return { values, secretKeys, secretValues, sources };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    return true; // let the decryptor report other problems
  }
}

/** A `--secret-file`: sops-encrypted (YAML/JSON, or dotenv with sops metadata) or a plain dotenv file. */
async function readSecretFile(
  path: string,
  shown: string,
  sops: (path: string, shown: string, format?: SopsFormat) => Promise<Record<string, string>>,
): Promise<Record<string, string>> {
  const format = sopsFormatOf(path);
  if (format === "yaml" || format === "json") return sops(path, shown);
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw invalid(
      `command line (--secret-file): secret file ${shown} ${error.code === "ENOENT" ? "does not exist" : `cannot be read (${error.code ?? error.message})`}.`,
    );
  });
  if (/^sops_mac=/m.test(text)) return sops(path, shown, "dotenv");
  return parseDotenv(text);
}
