/**
 * The audit log (table `audit`, migration 5): one row per state change, written
 * by the `audit` store op in the same transaction as the change. Listed
 * newest first with a keyset cursor (the id of the last row seen).
 */
import type { Row, SqlRunner } from "./sql-driver.js";
import type { AuditPage, AuditRecord, NewAuditEntry } from "./store.js";

export async function writeAudit(tx: SqlRunner, entry: NewAuditEntry): Promise<void> {
  await tx.run(`INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`, [
    entry.at ?? Date.now(),
    entry.actor,
    entry.action,
    entry.target,
    entry.detail === undefined ? null : JSON.stringify(entry.detail),
  ]);
}

function toAudit(r: Row): AuditRecord {
  return {
    id: Number(r.id),
    at: Number(r.at),
    actor: String(r.actor),
    action: String(r.action),
    target: String(r.target),
    detail: r.detail === null || r.detail === undefined ? null : (JSON.parse(String(r.detail)) as Record<string, unknown>),
  };
}

/** Newest first; `cursor` is the `next` of the previous page. */
export async function listAudit(q: SqlRunner, query: { readonly limit?: number; readonly cursor?: string } = {}): Promise<AuditPage> {
  const limit = Math.max(1, Math.min(query.limit ?? 50, 1000));
  const before = query.cursor === undefined ? undefined : Number(query.cursor);
  if (before !== undefined && !Number.isSafeInteger(before)) return { entries: [] };
  const rows = await q.all(
    `SELECT * FROM audit ${before === undefined ? "" : "WHERE id < ?"} ORDER BY id DESC LIMIT ${limit + 1}`,
    before === undefined ? [] : [before],
  );
  const entries = rows.slice(0, limit).map(toAudit);
  const last = entries[entries.length - 1];
  return rows.length > limit && last ? { entries, next: String(last.id) } : { entries };
}
