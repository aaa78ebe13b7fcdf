/**
 * Reading sops files into sops' own tree model: ordered branches whose items
 * are key/value pairs or comments, lists, and scalars. The order matters: the
 * MAC covers the values in tree-walk order. Three formats, as the `sops` tool
 * writes them: YAML, JSON (read with the YAML parser, which keeps key order,
 * unlike `JSON.parse` with integer-like keys) and dotenv.
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Document, Node as YamlNode } from "yaml";

export type SopsFormat = "yaml" | "json" | "dotenv";

export interface SopsComment {
  readonly kind: "comment";
  readonly text: string;
}
export interface SopsPair {
  readonly kind: "pair";
  readonly key: string;
  value: SopsValue;
}
export interface SopsBranch {
  readonly kind: "branch";
  readonly items: Array<SopsPair | SopsComment>;
}
export interface SopsList {
  readonly kind: "list";
  readonly items: Array<SopsValue | SopsComment>;
}
export type SopsScalar = string | number | boolean | null | Uint8Array;
export type SopsValue = SopsScalar | SopsBranch | SopsList | SopsComment;

export interface SopsKey {
  readonly type: "pgp" | "age";
  /** PGP fingerprint or age recipient. */
  readonly id: string;
  readonly enc: string;
}

export interface SopsMetadata {
  readonly lastModified: string;
  readonly mac: string;
  readonly keys: readonly SopsKey[];
  /** Key types present that the built-in decryptor cannot use (kms, gcp_kms, azure_kv, hc_vault, shamir). */
  readonly unsupported: readonly string[];
  readonly unencryptedSuffix?: string;
  readonly encryptedSuffix?: string;
  readonly unencryptedRegex?: string;
  readonly encryptedRegex?: string;
  readonly unencryptedCommentRegex?: string;
  readonly encryptedCommentRegex?: string;
  readonly macOnlyEncrypted: boolean;
}

export interface ParsedSopsFile {
  readonly format: SopsFormat;
  readonly tree: SopsBranch;
  readonly metadata: SopsMetadata;
}

/** Thrown for a file that is not a well-formed sops file; the caller adds the file name. */
export class SopsFormatError extends Error {}

/** The format from the file name: `.yaml`/`.yml`, `.json`, `.env` (also a file named `.env`). */
export function sopsFormatOf(path: string): SopsFormat | undefined {
  const name = path.toLowerCase().replace(/^.*[\\/]/, "");
  if (name.endsWith(".yaml") || name.endsWith(".yml")) return "yaml";
  if (name.endsWith(".json")) return "json";
  if (name.endsWith(".env") || name === ".env") return "dotenv";
  return undefined;
}

export function parseSopsFile(text: string, format: SopsFormat): ParsedSopsFile {
  return format === "dotenv" ? parseDotenv(text) : parseYaml(text, format);
}

// ------------------------------------------------------------------ YAML / JSON

const comments = (text: string | null | undefined): SopsComment[] =>
  text == null ? [] : text.split("\n").map((line) => ({ kind: "comment", text: line }));

function fromYaml(node: unknown, doc: Document): SopsValue {
  if (node == null) return null;
  if (isAlias(node)) return fromYaml(node.resolve(doc), doc);
  if (isMap(node)) {
    const items: Array<SopsPair | SopsComment> = [];
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      items.push(...comments(keyNode?.commentBefore));
      const key = isScalar(keyNode) ? keyNode.value : keyNode;
      if (key !== null && typeof key === "object") throw new SopsFormatError("only scalar keys are supported");
      items.push({ kind: "pair", key: String(key), value: fromYaml(pair.value, doc) });
    }
    items.push(...comments(node.comment));
    return { kind: "branch", items };
  }
  if (isSeq(node)) {
    const items: Array<SopsValue | SopsComment> = [];
    for (const item of node.items) {
      items.push(...comments((item as YamlNode | null)?.commentBefore));
      items.push(fromYaml(item, doc));
    }
    items.push(...comments(node.comment));
    return { kind: "list", items };
  }
  if (isScalar(node)) {
    const value = node.value;
    if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
    if (typeof value === "bigint") return Number(value);
    if (value instanceof Uint8Array) return value;
    return String(value);
  }
  throw new SopsFormatError("unsupported YAML node");
}

function parseYaml(text: string, format: "yaml" | "json"): ParsedSopsFile {
  const doc = parseDocument(text, { prettyErrors: false });
  const first = doc.errors[0];
  if (first) throw new SopsFormatError(`not valid ${format === "json" ? "JSON" : "YAML"}: ${first.message.split("\n")[0]}`);
  const root = fromYaml(doc.contents, doc);
  if (root === null || typeof root !== "object" || !("kind" in root) || root.kind !== "branch") {
    throw new SopsFormatError("the document is not a map of keys to values");
  }
  const items: Array<SopsPair | SopsComment> = [...comments(doc.commentBefore)];
  let meta: unknown;
  for (const item of root.items) {
    if (item.kind === "pair" && item.key === "sops") meta = toPlain(item.value);
    else items.push(item);
  }
  items.push(...comments(doc.comment));
  if (meta === undefined) throw new SopsFormatError("it has no sops metadata (is it encrypted with sops?)");
  return { format, tree: { kind: "branch", items }, metadata: readMetadata(meta) };
}

/** A sops tree (without comments) as plain JavaScript values. */
export function toPlain(value: SopsValue): unknown {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (value.kind === "comment") return undefined;
  if (value.kind === "list") return value.items.filter((v) => !isComment(v)).map(toPlain);
  const out: Record<string, unknown> = {};
  for (const item of value.items) if (item.kind === "pair") out[item.key] = toPlain(item.value);
  return out;
}

export const isComment = (value: unknown): value is SopsComment =>
  typeof value === "object" && value !== null && !(value instanceof Uint8Array) && (value as { kind?: string }).kind === "comment";

// ------------------------------------------------------------------ dotenv

const SOPS_PREFIX = "sops_";

/** As sops' dotenv store: one `KEY=VALUE` per line (split at the first `=`), `#` comments, `\n` escapes. */
function parseDotenv(text: string): ParsedSopsFile {
  const items: Array<SopsPair | SopsComment> = [];
  const flat: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      items.push({ kind: "comment", text: line.slice(1) });
      continue;
    }
    const eq = line.indexOf("=");
    if (eq === -1) throw new SopsFormatError(`invalid dotenv line ${JSON.stringify(line.slice(0, 40))} (no "=")`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).replace(/\\n/g, "\n");
    if (key.startsWith(SOPS_PREFIX)) flat[key.slice(SOPS_PREFIX.length)] = value;
    else items.push({ kind: "pair", key, value });
  }
  if (Object.keys(flat).length === 0) throw new SopsFormatError("it has no sops metadata (is it encrypted with sops?)");
  return { format: "dotenv", tree: { kind: "branch", items }, metadata: readMetadata(unflatten(flat)) };
}

/** Undo sops' metadata flattening: `pgp__list_0__map_enc` -> `{ pgp: [{ enc }] }`. */
function unflatten(flat: Record<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(flat)) {
    const tokens = path
      .split(/(?=__map_|__list_)/)
      .map((t) => (t.startsWith("__map_") ? t.slice(6) : t.startsWith("__list_") ? Number(t.slice(7)) : t));
    let node: Record<string | number, unknown> = root;
    tokens.forEach((token, i) => {
      const next = tokens[i + 1];
      if (next === undefined) node[token] = value;
      else node = (node[token] ??= typeof next === "number" ? [] : {}) as Record<string | number, unknown>;
    });
  }
  return root;
}

// ------------------------------------------------------------------ metadata

const str = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : typeof value === "number" ? String(value) : undefined;
const list = (value: unknown): Array<Record<string, unknown>> =>
  Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null) : [];

function readKeys(group: Record<string, unknown>, keys: SopsKey[], unsupported: Set<string>): void {
  for (const k of list(group.pgp)) {
    const enc = str(k.enc);
    if (enc) keys.push({ type: "pgp", id: str(k.fp) ?? "(no fingerprint)", enc });
  }
  for (const k of list(group.age)) {
    const enc = str(k.enc);
    if (enc) keys.push({ type: "age", id: str(k.recipient) ?? "(no recipient)", enc });
  }
  for (const type of ["kms", "gcp_kms", "azure_kv", "hc_vault"]) if (list(group[type]).length > 0) unsupported.add(type);
}

function readMetadata(meta: unknown): SopsMetadata {
  if (typeof meta !== "object" || meta === null) throw new SopsFormatError("its sops metadata is not a map");
  const m = meta as Record<string, unknown>;
  const keys: SopsKey[] = [];
  const unsupported = new Set<string>();
  const groups = list(m.key_groups);
  if (groups.length > 1) unsupported.add("shamir key groups");
  for (const group of groups.length > 0 ? groups : [m]) readKeys(group, keys, unsupported);
  const lastModified = str(m.lastmodified);
  const mac = str(m.mac);
  if (!lastModified) throw new SopsFormatError("its sops metadata has no lastmodified");
  if (!mac) throw new SopsFormatError("its sops metadata has no MAC, so its integrity cannot be checked");
  const opt = (name: string): { [k: string]: string } => {
    const value = str(m[name]);
    return value === undefined ? {} : { [name]: value };
  };
  const o = { ...opt("unencrypted_suffix"), ...opt("encrypted_suffix"), ...opt("unencrypted_regex"), ...opt("encrypted_regex") };
  const c = { ...opt("unencrypted_comment_regex"), ...opt("encrypted_comment_regex") };
  const rules = Object.keys(o).length + Object.keys(c).length;
  if (rules > 1) throw new SopsFormatError("its sops metadata sets more than one of the encrypted/unencrypted suffix and regex rules");
  // as sops: without any rule, keys ending in "_unencrypted" are left in plain text
  if (rules === 0) o.unencrypted_suffix = "_unencrypted";
  return {
    lastModified,
    mac,
    keys,
    unsupported: [...unsupported],
    ...(o.unencrypted_suffix !== undefined && { unencryptedSuffix: o.unencrypted_suffix }),
    ...(o.encrypted_suffix !== undefined && { encryptedSuffix: o.encrypted_suffix }),
    ...(o.unencrypted_regex !== undefined && { unencryptedRegex: o.unencrypted_regex }),
    ...(o.encrypted_regex !== undefined && { encryptedRegex: o.encrypted_regex }),
    ...(c.unencrypted_comment_regex !== undefined && { unencryptedCommentRegex: c.unencrypted_comment_regex }),
    ...(c.encrypted_comment_regex !== undefined && { encryptedCommentRegex: c.encrypted_comment_regex }),
    macOnlyEncrypted: m.mac_only_encrypted === true || m.mac_only_encrypted === "true",
  };
}
