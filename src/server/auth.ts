/**
 * API tokens and roles: the one place where a token is made, hashed and
 * checked. A token is `gantry_` + 256 random bits (base64url); the store
 * keeps only its SHA-256, looked up by that hash and compared in constant
 * time. Roles are ordered: viewer (read) < operator (trigger, cancel, rerun,
 * requeue) < admin (tokens, repos, audit).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { GantryError } from "../core/errors.js";
import type { Store, TokenRecord, TokenRole } from "../store/store.js";
import { ApiError } from "./errors.js";

export const TOKEN_PREFIX = "gantry_";
export const ROLES: readonly TokenRole[] = ["viewer", "operator", "admin"];

/** Who made a request: the token's id and role. */
export interface Principal {
  readonly tokenId: string;
  readonly name: string;
  readonly role: TokenRole;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function roleAllows(role: TokenRole, needed: TokenRole): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export function isRole(value: string): value is TokenRole {
  return (ROLES as readonly string[]).includes(value);
}

/** `30d`, `12h`, `90m`, `1w`, `1y` to milliseconds. */
export function parseExpiry(text: string): number {
  const m = /^(\d+)\s*([mhdwy])$/.exec(text.trim());
  if (!m) throw new GantryError("USAGE", `--expires ${text}: expected a number and a unit, like 30d, 12h, 90m, 2w or 1y`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[m[2] as "m" | "h" | "d" | "w" | "y"];
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw new GantryError("USAGE", `--expires ${text}: must be more than zero`);
  return ms;
}

export interface CreateTokenOptions {
  readonly role: TokenRole;
  readonly name: string;
  /** Lifetime in ms; none = no expiry. */
  readonly expiresInMs?: number;
  /** Who asks: a token id, or "cli". */
  readonly actor: string;
  readonly now?: number;
}

/** Create a token and its audit row in one transaction; returns the token (shown once) and its record. */
export async function createToken(store: Store, options: CreateTokenOptions): Promise<{ token: string; record: TokenRecord }> {
  const now = options.now ?? Date.now();
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  const record: TokenRecord = {
    id: `tok_${randomBytes(6).toString("hex")}`,
    name: options.name,
    role: options.role,
    createdAt: now,
    expiresAt: options.expiresInMs === undefined ? null : now + options.expiresInMs,
    revokedAt: null,
    createdBy: options.actor,
  };
  const { revokedAt: _unused, ...row } = record;
  await store.write([
    { op: "token", token: { ...row, hash: hashToken(token) } },
    {
      op: "audit",
      entry: { at: now, actor: options.actor, action: "token.create", target: record.id, detail: { name: record.name, role: record.role } },
    },
  ]);
  return { token, record };
}

/** Revoke a token with its audit row; false when it does not exist, true when revoked now or before (no second row). */
export async function revokeToken(store: Store, id: string, actor: string, now = Date.now()): Promise<boolean> {
  const token = await store.tokens.get(id);
  if (!token) return false;
  if (token.revokedAt !== null) return true;
  await store.write([
    { op: "token.revoke", id, at: now },
    { op: "audit", entry: { at: now, actor, action: "token.revoke", target: id } },
  ]);
  return true;
}

/** The principal of an `Authorization` header, or a 401 that says what is wrong. */
export async function authenticate(store: Store, header: string | undefined, now = Date.now()): Promise<Principal> {
  if (!header) throw new ApiError(401, "unauthorized", "this endpoint needs `Authorization: Bearer <token>`");
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw new ApiError(401, "unauthorized", "the Authorization header must be `Bearer <token>`");
  const token = m[1] as string;
  const bad = new ApiError(401, "unauthorized", "the token is not valid (unknown, revoked or expired)");
  if (!token.startsWith(TOKEN_PREFIX)) throw bad;
  const hash = hashToken(token);
  const found = await store.tokens.findByHash(hash);
  // The lookup is by hash (no timing signal about the token); the compare below is constant-time anyway.
  if (!found || !timingSafeEqual(Buffer.from(found.hash, "hex"), Buffer.from(hash, "hex"))) throw bad;
  if (found.revokedAt !== null || (found.expiresAt !== null && found.expiresAt <= now)) throw bad;
  return { tokenId: found.id, name: found.name, role: found.role };
}
