/**
 * OpenSSH `known_hosts`, as pure functions: parsing (plain patterns,
 * negations, `[host]:port`, hashed `|1|salt|hash` names, `@revoked` and
 * `@cert-authority` markers), the check of a server's key against it, the
 * SHA256 fingerprint OpenSSH prints, and the line `accept-new` appends.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { matchPattern } from "./config.js";

export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  readonly line: number;
  readonly marker?: "revoked" | "cert-authority";
  /** The host field: comma-separated patterns, or one hashed name. */
  readonly hosts: string;
  readonly keyType: string;
  /** Base64 of the key blob. */
  readonly key: string;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else return;
    }
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) return;
    entries.push({ line: i + 1, hosts, keyType, key, ...(marker && { marker }) });
  });
  return entries;
}

/** The name known_hosts stores for a host: `host`, or `[host]:port` when the port is not 22. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Whether an entry's host field names `name` (as made by `knownHostName`). */
export function entryMatches(entry: Pick<KnownHostEntry, "hosts">, name: string): boolean {
  if (entry.hosts.startsWith("|1|")) {
    const [, , salt, hash] = entry.hosts.split("|");
    if (!salt || !hash) return false;
    const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return digest === hash;
  }
  let matched = false;
  for (const pattern of entry.hosts.split(",")) {
    if (pattern.startsWith("!")) {
      if (matchPattern(pattern.slice(1), name)) return false;
    } else if (matchPattern(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

export type HostKeyCheck =
  | { readonly status: "known"; readonly line: number }
  /** No entry for this host and key type; `otherTypes` lists the types it has keys of. */
  | { readonly status: "unknown"; readonly otherTypes: readonly string[] }
  /** The host has a key of this type, and it is a different one. */
  | { readonly status: "changed"; readonly line: number }
  | { readonly status: "revoked"; readonly line: number };

/** Check a server's key (type and base64 blob) for `name`. */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, keyType: string, key: string): HostKeyCheck {
  for (const entry of entries) {
    if (entry.marker === "revoked" && entry.key === key) return { status: "revoked", line: entry.line };
  }
  let changed: number | undefined;
  const otherTypes = new Set<string>();
  for (const entry of entries) {
    if (entry.marker !== undefined || !entryMatches(entry, name)) continue;
    if (entry.keyType === keyType) {
      if (entry.key === key) return { status: "known", line: entry.line };
      changed ??= entry.line;
    } else {
      otherTypes.add(entry.keyType);
    }
  }
  if (changed !== undefined) return { status: "changed", line: changed };
  return { status: "unknown", otherTypes: [...otherTypes] };
}

/** Key types known for `name`, to offer those host key algorithms first (as OpenSSH does). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  const types: string[] = [];
  for (const entry of entries) {
    if (entry.marker === undefined && entryMatches(entry, name) && !types.includes(entry.keyType)) types.push(entry.keyType);
  }
  return types;
}

/** `SHA256:...`, as `ssh-keygen -lf` and ssh print it. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named at the start of an SSH public key blob (`ssh-ed25519`, ...). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const len = keyBlob.readUInt32BE(0);
  if (len > keyBlob.length - 4 || len > 64) return "unknown";
  return keyBlob.subarray(4, 4 + len).toString("latin1");
}

/**
 * The line to append for a newly accepted key. `hashed` writes the name as
 * `|1|salt|hash` (what `HashKnownHosts yes` does); `salt` is for tests.
 */
export function knownHostsLine(name: string, keyBlob: Buffer, options: { hashed?: boolean; salt?: Buffer } = {}): string {
  let field = name;
  if (options.hashed) {
    const salt = options.salt ?? randomBytes(20);
    field = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
  }
  return `${field} ${keyTypeOf(keyBlob)} ${keyBlob.toString("base64")}\n`;
}

/**
 * The host key algorithms to offer, with the types known for the host first.
 * `rsa-sha2-*` signatures belong to `ssh-rsa` keys.
 */
export function hostKeyAlgorithmOrder(known: readonly string[], supported: readonly string[]): string[] {
  const first: string[] = [];
  for (const type of known) {
    const algos = type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
    for (const algo of algos) if (supported.includes(algo) && !first.includes(algo)) first.push(algo);
  }
  return [...first, ...supported.filter((a) => !first.includes(a))];
}
