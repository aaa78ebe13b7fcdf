/**
 * Decrypting sops files without the `sops` tool (it is used only as a
 * fallback for key types this module does not speak).
 *
 * How sops works, and what is done here:
 * 1. The 32-byte data key is stored once per master key; for PGP it is
 *    `sops.pgp[].enc`, decrypted with `gpg --batch --decrypt` and the user's
 *    keyring (`GNUPGHOME` from the given environment).
 * 2. Every value `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` is AES-256-GCM
 *    with that key; the additional data is the value's key path joined with
 *    `:` plus a trailing `:` (`db:password:`; list items keep their parent's
 *    path, comments use the path of the branch that holds them).
 * 3. The MAC is SHA-512 over the plain values in tree-walk order (all values,
 *    or only the encrypted ones with `mac_only_encrypted`, comments never),
 *    upper-case hex, stored encrypted with the `lastmodified` timestamp as
 *    additional data. It is recomputed and compared; a mismatch rejects the file.
 *
 * Environment variables from the decrypted tree: top-level scalars keep their
 * key; nested maps join keys with `_` (`db: { user }` -> `db_user`), list items
 * use their index (`hosts_0`); case is unchanged; `null` becomes the empty
 * string, booleans `true`/`false`. In dotenv files, keys and unquoted values
 * are trimmed and one pair of surrounding quotes is removed, as dotenv does.
 */
import { createDecipheriv, createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { GantryError } from "../core/errors.js";
import { hasSops, pgpDataKey, runSops } from "./sops-keys.js";
import { isComment, parseSopsFile, SopsFormatError, sopsFormatOf, toPlain } from "./sops-tree.js";
import type { ParsedSopsFile, SopsBranch, SopsFormat, SopsList, SopsMetadata, SopsValue } from "./sops-tree.js";

export { sopsFormatOf } from "./sops-tree.js";
export type { SopsFormat } from "./sops-tree.js";

export interface SopsDecryptOptions {
  /** Environment for `gpg` and `sops` (PATH, GNUPGHOME, SOPS_AGE_KEY_FILE…). Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** The format, when the file name does not tell (default: from the extension). */
  readonly format?: SopsFormat;
  /** How the file is named in messages (default: the path). */
  readonly displayName?: string;
  /** Run the `sops` binary, when on PATH, for files with no PGP key this module can use (age, KMS…). Default true. */
  readonly sopsFallback?: boolean;
}

export interface SopsDocument {
  readonly format: SopsFormat;
  /** The decrypted document as plain values (without the `sops` metadata). */
  readonly data: Record<string, unknown>;
  /** Decrypted comments in document order (empty when the `sops` binary did the work). */
  readonly comments: readonly string[];
  /** The document flattened to environment variables (see the module comment). */
  readonly env: Record<string, string>;
}

const invalid = (message: string, cause?: unknown): GantryError => new GantryError("ENV_INVALID", message, { cause });

/** Decrypt a sops file (format from the extension) and verify its MAC. */
export async function decryptSopsFile(path: string, options: SopsDecryptOptions = {}): Promise<SopsDocument> {
  const name = options.displayName ?? path;
  const format = options.format ?? sopsFormatOf(path);
  if (!format) throw invalid(`${name}: cannot tell the sops file format from its name; use a .yaml, .yml, .json or .env extension.`);
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw invalid(`${name}: cannot read the sops file (${error.code ?? error.message}).`, error);
  });
  let parsed: ParsedSopsFile;
  try {
    parsed = parseSopsFile(text, format);
  } catch (error) {
    if (error instanceof SopsFormatError) throw invalid(`${name}: not a sops ${format} file: ${error.message}.`);
    throw error;
  }
  const env = options.env ?? process.env;
  const pgpKeys = parsed.metadata.keys.filter((k) => k.type === "pgp");
  const unsupported = [...parsed.metadata.unsupported, ...(parsed.metadata.keys.some((k) => k.type === "age") ? ["age"] : [])];
  if (parsed.metadata.unsupported.includes("shamir key groups") || pgpKeys.length === 0) {
    return fallbackOrFail(path, format, name, unsupported, env, options);
  }
  let dataKey: Buffer;
  try {
    dataKey = await pgpDataKey(pgpKeys, name, env, options.signal);
  } catch (error) {
    if (unsupported.length > 0 && options.sopsFallback !== false && (await hasSops(env)))
      return fromSopsBinary(path, format, name, env, options.signal);
    throw error;
  }
  return decryptParsed(parsed, dataKey, name);
}

/** Decrypt an already parsed file with a known data key; exported for tools and tests. */
export function decryptParsed(parsed: ParsedSopsFile, dataKey: Buffer, name: string): SopsDocument {
  const comments: string[] = [];
  const hash = createHash("sha512");
  const md = parsed.metadata;
  if (md.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const shouldEncrypt = encryptionRule(md, name);
  const onLeaf = (value: SopsValue, path: string[], stack: string[][]): SopsValue => {
    const comment = isComment(value);
    const encrypted = shouldEncrypt(path, stack, comment);
    let plain: SopsValue = value;
    if (encrypted) {
      const aad = path.join(":") + ":";
      if (comment) {
        // as sops: a comment that does not decrypt was never encrypted
        try {
          plain = decryptValue(value.text, dataKey, aad);
        } catch {
          plain = value;
        }
      } else if (typeof value !== "string") {
        throw invalid(
          `${name}: the value at ${path.join(".")} is not encrypted, but sops would have encrypted it; the file was changed by hand.`,
        );
      } else {
        try {
          plain = decryptValue(value, dataKey, aad);
        } catch (error) {
          throw invalid(`${name}: cannot decrypt the value at ${path.join(".")}: ${(error as Error).message}.`, error);
        }
      }
    }
    if (isComment(plain)) comments.push(plain.text);
    else if (!md.macOnlyEncrypted || encrypted) hash.update(toMacBytes(plain));
    return plain;
  };
  const tree = walkBranch(parsed.tree, [], [], onLeaf);
  const computed = hash.digest();
  let stored: SopsValue;
  try {
    stored = decryptValue(md.mac, dataKey, rfc3339(md.lastModified));
  } catch (error) {
    throw invalid(`${name}: MAC mismatch: the stored MAC does not decrypt (the file or its lastmodified was changed).`, error);
  }
  const storedBytes = Buffer.from(typeof stored === "string" ? stored : "", "hex");
  if (storedBytes.length !== computed.length || !timingSafeEqual(storedBytes, computed)) {
    throw invalid(`${name}: MAC mismatch: the decrypted values do not match the file's MAC, so the file was changed after sops wrote it.`);
  }
  const data = toPlain(tree) as Record<string, unknown>;
  return { format: parsed.format, data, comments, env: toEnv(data, parsed.format) };
}

// ------------------------------------------------------------------ tree walk (as sops.go)

type OnLeaf = (value: SopsValue, path: string[], stack: string[][]) => SopsValue;

function walkValue(value: SopsValue, path: string[], stack: string[][], onLeaf: OnLeaf): SopsValue {
  if (value === null) return null;
  if (typeof value !== "object" || value instanceof Uint8Array || value.kind === "comment") return onLeaf(value, path, stack);
  return value.kind === "branch" ? walkBranch(value, path, stack, onLeaf) : walkList(value, path, stack, onLeaf);
}

function walkBranch(branch: SopsBranch, path: string[], outer: string[][], onLeaf: OnLeaf): SopsBranch {
  const stack = [...outer, []];
  const top = stack.length - 1;
  const items = branch.items.map((item) => {
    if (item.kind === "comment") {
      stack[top]!.push(item.text);
      const plain = onLeaf(item, path, stack);
      return isComment(plain) ? plain : ({ kind: "comment", text: String(plain) } as const);
    }
    const value = walkValue(item.value, [...path, item.key], stack, onLeaf);
    stack[top] = [];
    return { ...item, value };
  });
  return { kind: "branch", items };
}

function walkList(list: SopsList, path: string[], outer: string[][], onLeaf: OnLeaf): SopsList {
  const stack = [...outer, []];
  const top = stack.length - 1;
  const items = list.items.map((item) => {
    if (isComment(item)) {
      stack[top]!.push(item.text);
      return walkValue(item, path, stack, onLeaf);
    }
    const value = walkValue(item, path, stack, onLeaf);
    stack[top] = [];
    return value;
  });
  return { kind: "list", items };
}

function regex(source: string | undefined, field: string, name: string): RegExp | undefined {
  if (source === undefined) return undefined;
  try {
    return new RegExp(source);
  } catch {
    throw invalid(
      `${name}: its ${field} ${JSON.stringify(source)} uses regular-expression syntax Gantry cannot read; decrypt it with the sops tool.`,
    );
  }
}

/** `shouldBeEncrypted` of sops.go, rule for rule. */
function encryptionRule(md: SopsMetadata, name: string): (path: string[], stack: string[][], isComment: boolean) => boolean {
  const unencRe = regex(md.unencryptedRegex, "unencrypted_regex", name);
  const encRe = regex(md.encryptedRegex, "encrypted_regex", name);
  const unencCommentRe = regex(md.unencryptedCommentRegex, "unencrypted_comment_regex", name);
  const encCommentRe = regex(md.encryptedCommentRegex, "encrypted_comment_regex", name);
  return (path, stack, isComment) => {
    let encrypted = true;
    if (md.unencryptedSuffix && path.some((p) => p.endsWith(md.unencryptedSuffix!))) encrypted = false;
    if (md.encryptedSuffix) encrypted = path.some((p) => p.endsWith(md.encryptedSuffix!));
    if (unencRe && path.some((p) => unencRe.test(p))) encrypted = false;
    if (encRe) encrypted = path.some((p) => encRe.test(p));
    if (unencCommentRe && stack.some((cs) => cs.some((c) => unencCommentRe.test(c)))) encrypted = false;
    if (encCommentRe) {
      const lastSet = stack.length - 1;
      const lastLine = (stack[lastSet]?.length ?? 0) - 1;
      // the comment that matches the rule is itself left in plain text
      encrypted = stack.some((cs, i) => cs.some((c, j) => !(isComment && i === lastSet && j === lastLine) && encCommentRe.test(c)));
    }
    return encrypted;
  };
}

// ------------------------------------------------------------------ values

/** `sha256("sops")`: the MAC of a `mac_only_encrypted` file starts from it (sops.go). */
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69", "hex");

const ENC = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;

function decryptValue(ciphertext: string, key: Buffer, aad: string): SopsValue {
  if (ciphertext === "") return "";
  const m = ENC.exec(ciphertext);
  if (!m) throw new Error("not in sops' ENC[AES256_GCM,…] format");
  const [, data, iv, tag, type] = m as unknown as [string, string, string, string, string];
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  let bytes: Buffer;
  try {
    bytes = Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]);
  } catch {
    throw new Error("authentication failed (wrong key, or the value was moved or changed)");
  }
  const text = bytes.toString("utf8");
  switch (type) {
    case "str":
      return text;
    case "int":
    case "int64":
      if (!/^[+-]?\d+$/.test(text)) throw new Error(`${JSON.stringify(text)} is not an integer`);
      return Number(text);
    case "float": {
      const n = Number(text);
      if (text.trim() === "" || (Number.isNaN(n) && !/^[+-]?nan$/i.test(text))) throw new Error(`${JSON.stringify(text)} is not a number`);
      return n;
    }
    case "bool":
      if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
      if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
      throw new Error(`${JSON.stringify(text)} is not a boolean`);
    case "bytes":
      return new Uint8Array(bytes);
    case "comment":
      return { kind: "comment", text };
    default:
      throw new Error(`unknown value type ${JSON.stringify(type)}`);
  }
}

/** Go's `strconv.FormatFloat(n, 'f', -1, 64)`: shortest exact digits, never an exponent. */
export function formatFloat(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "+Inf" : "-Inf";
  if (Object.is(n, -0)) return "-0";
  const text = String(Math.abs(n));
  const sign = n < 0 ? "-" : "";
  const e = text.indexOf("e");
  if (e === -1) return sign + text;
  const exp = Number(text.slice(e + 1));
  const [int = "", frac = ""] = text.slice(0, e).split(".");
  const digits = int + frac;
  const point = int.length + exp;
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + "0".repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** `ToBytes` of sops.go. */
function toMacBytes(value: SopsValue): Buffer {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (typeof value === "number") return Buffer.from(formatFloat(value));
  if (typeof value === "boolean") return Buffer.from(value ? "True" : "False");
  if (value instanceof Uint8Array) return Buffer.from(value);
  return Buffer.alloc(0);
}

/** sops formats `lastmodified` with Go's RFC 3339 layout: no fraction, `Z` for UTC. */
function rfc3339(stamp: string): string {
  const m = /^(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.\d+)?([Zz]|[+-]\d\d:\d\d)$/.exec(stamp.trim());
  if (!m) return stamp;
  const zone = m[3] === "z" || m[3] === "Z" || m[3] === "+00:00" || m[3] === "-00:00" ? "Z" : m[3]!;
  return `${m[1]}T${m[2]}${zone}`;
}

// ------------------------------------------------------------------ env

function envString(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return formatFloat(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  return String(value);
}

function dotenvValue(raw: string): string {
  const value = raw.trim();
  const q = value[0];
  if (value.length >= 2 && (q === '"' || q === "'" || q === "`") && value.endsWith(q)) return value.slice(1, -1);
  return value;
}

/** Flatten a decrypted document to environment variables (see the module comment). */
export function toEnv(data: Record<string, unknown>, format: SopsFormat): Record<string, string> {
  const env: Record<string, string> = {};
  const visit = (value: unknown, name: string): void => {
    if (Array.isArray(value)) value.forEach((item, i) => visit(item, `${name}_${i}`));
    else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
      for (const [key, inner] of Object.entries(value)) visit(inner, `${name}_${key}`);
    } else env[name] = envString(value);
  };
  for (const [key, value] of Object.entries(data)) {
    if (format === "dotenv") env[key.trim()] = dotenvValue(envString(value));
    else visit(value, key);
  }
  return env;
}

// ------------------------------------------------------------------ without the built-in decryptor

async function fallbackOrFail(
  path: string,
  format: SopsFormat,
  name: string,
  unsupported: string[],
  env: Readonly<Record<string, string | undefined>>,
  options: SopsDecryptOptions,
): Promise<SopsDocument> {
  if (options.sopsFallback !== false && (await hasSops(env))) return fromSopsBinary(path, format, name, env, options.signal);
  if (unsupported.length === 1 && unsupported[0] === "age")
    throw invalid(`${name}: age keys are not supported yet; install sops (it is used when on PATH) or add a PGP key to the file.`);
  const what = unsupported.length > 0 ? `${unsupported.join(", ")} keys are` : "this file's keys are";
  throw invalid(
    `${name}: ${what} not supported without the sops tool; install sops (it is used when on PATH) or add a PGP key to the file.`,
  );
}

async function fromSopsBinary(
  path: string,
  format: SopsFormat,
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  signal?: AbortSignal,
): Promise<SopsDocument> {
  const data = await runSops(path, format, name, env, signal);
  return { format, data, comments: [], env: toEnv(data, format) };
}
