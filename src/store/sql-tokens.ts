/**
 * API tokens and the audit trail over any `SqlDriver`: the `token`,
 * `token.revoke` and `audit` operations of a batch and their reads. A token
 * row holds the SHA-256 of the token, never the token.
 */
import type { Row, SqlRunner, SqlValue } from "./sql-driver.js";
import { num } from "./sql-rows.js";
import type { AuditQuery, AuditRecord, NewAudit, NewToken, TokenRecord, TokenRole } from "./store.js";

export async function insertToken(tx: SqlRunner, t: NewToken): Promise<void> {
  await tx.run(
    `INSERT INTO api_tokens (id, name, role, hash, created_at, expires_at, revoked_at, created_by) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)
     ON CONFLICT (id) DO NOTHING`,
    [t.id, t.name, t.role, t.hash, t.createdAt, t.expiresAt, t.createdBy],
  );
}

export async function revokeToken(tx: SqlRunner, id: string, at: number): Promise<void> {
  await tx.run(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, [at, id]);
}

export async function insertAudit(tx: SqlRunner, a: NewAudit): Promise<void> {
  await tx.run(`INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`, [
    a.at,
    a.actor,
    a.action,
    a.target,
    a.detail === undefined ? null : JSON.stringify(a.detail),
  ]);
}

function toToken(r: Row): TokenRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    role: String(r.role) as TokenRole,
    createdAt: Number(r.created_at),
    expiresAt: num(r.expires_at),
    revokedAt: num(r.revoked_at),
    createdBy: String(r.created_by),
  };
}

export async function findTokenByHash(db: SqlRunner, hash: string): Promise<(TokenRecord & { readonly hash: string }) | undefined> {
  const rows = await db.all(`SELECT * FROM api_tokens WHERE hash = ?`, [hash]);
  return rows[0] ? { ...toToken(rows[0]), hash: String(rows[0].hash) } : undefined;
}

export async function getToken(db: SqlRunner, id: string): Promise<TokenRecord | undefined> {
  const rows = await db.all(`SELECT * FROM api_tokens WHERE id = ?`, [id]);
  return rows[0] ? toToken(rows[0]) : undefined;
}

export async function listTokens(db: SqlRunner): Promise<TokenRecord[]> {
  return (await db.all(`SELECT * FROM api_tokens ORDER BY created_at, id`)).map(toToken);
}

export async function countTokens(db: SqlRunner): Promise<number> {
  const rows = await db.all(`SELECT COUNT(*) AS n FROM api_tokens`);
  return Number(rows[0]?.n ?? 0);
}

/** Newest first; `before` is the id of the last row of the previous page. */
export async function listAudit(db: SqlRunner, query: AuditQuery = {}): Promise<AuditRecord[]> {
  const params: SqlValue[] = [];
  let where = "";
  if (query.before !== undefined) {
    where = "WHERE id < ?";
    params.push(query.before);
  }
  const limit = Math.max(1, Math.min(query.limit ?? 100, 1000));
  const rows = await db.all(`SELECT * FROM audit ${where} ORDER BY id DESC LIMIT ${limit}`, params);
  return rows.map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    actor: String(r.actor),
    action: String(r.action),
    target: String(r.target),
    detail: r.detail === null || r.detail === undefined ? null : (JSON.parse(String(r.detail)) as Record<string, unknown>),
  }));
}
