/**
 * API tokens over any `SqlDriver`: the `token` and
 * `token.revoke` operations of a batch and their reads. A token
 * row holds the SHA-256 of the token, never the token.
 */
import type { Row, SqlRunner } from "./sql-driver.js";
import { num } from "./sql-rows.js";
import type { NewToken, TokenRecord, TokenRole } from "./store.js";

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
