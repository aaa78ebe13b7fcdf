/**
 * Getting a sops file's data key: PGP through `gpg`, and the `sops` binary as
 * a fallback for key types the built-in decryptor does not speak.
 */
import { spawn } from "node:child_process";
import { GantryError } from "../core/errors.js";
import type { SopsFormat } from "./sops-tree.js";

const invalid = (message: string, cause?: unknown): GantryError => new GantryError("ENV_INVALID", message, { cause });

interface Spawned {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  input: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  signal?: AbortSignal,
): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"], ...(signal && { signal }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8").trim() }));
    child.stdin.on("error", () => undefined); // the child may exit before reading
    child.stdin.end(input ?? "");
  });
}

export async function pgpDataKey(
  keys: ReadonlyArray<{ id: string; enc: string }>,
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  signal?: AbortSignal,
): Promise<Buffer> {
  const failures: string[] = [];
  for (const key of keys) {
    let result: Spawned;
    try {
      result = await run("gpg", ["--batch", "--quiet", "--no-tty", "--decrypt"], key.enc, env, signal);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (e.code === "ENOENT")
        throw invalid(
          `${name}: gpg is not installed, and it is needed to decrypt the sops data key (PGP key ${key.id}); install GnuPG or sops.`,
          e,
        );
      if (e.name === "AbortError") throw new GantryError("CANCELLED", `${name}: decryption cancelled.`, { cause: e });
      throw invalid(`${name}: cannot run gpg: ${e.message}.`, e);
    }
    if (result.code === 0 && result.stdout.length === 32) return result.stdout;
    const reason =
      result.code === 0
        ? `gpg returned ${result.stdout.length} bytes, not a 32-byte key`
        : lastLine(result.stderr) || `gpg exited with ${result.code}`;
    failures.push(`${key.id} (${reason})`);
  }
  const home = env.GNUPGHOME ? ` (GNUPGHOME=${env.GNUPGHOME})` : "";
  throw invalid(`${name}: no PGP key in your keyring${home} can decrypt the sops data key; tried ${failures.join(", ")}.`);
}

const lastLine = (text: string): string =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .at(-1)
    ?.replace(/^gpg:\s*/, "") ?? "";

export async function hasSops(env: Readonly<Record<string, string | undefined>>): Promise<boolean> {
  try {
    return (await run("sops", ["--version"], undefined, env)).code === 0;
  } catch {
    return false;
  }
}

export async function runSops(
  path: string,
  format: SopsFormat,
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const result = await run("sops", ["--decrypt", "--input-type", format, "--output-type", "json", path], undefined, env, signal);
  if (result.code !== 0) throw invalid(`${name}: sops could not decrypt it: ${lastLine(result.stderr) || `exit code ${result.code}`}.`);
  return JSON.parse(result.stdout.toString("utf8")) as Record<string, unknown>;
}
