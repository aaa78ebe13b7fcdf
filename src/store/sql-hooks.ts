/**
 * `store.hooks` over any `SqlDriver` (contract in `hooks.ts`): the SQL is
 * the same on SQLite and PostgreSQL. A claim is a guarded UPDATE of one row
 * (`WHERE id = ? AND <still claimable>`): on PostgreSQL a concurrent claimer
 * blocks on the row and re-checks the condition, so one of them wins.
 */
import { writeAudit } from "./sql-audit.js";
import type { Row, SqlDriver } from "./sql-driver.js";
import { num } from "./sql-rows.js";
import type { HookDeliveryRecord, HookDeliveryState, HookStatusRecord, HookStore } from "./hooks.js";

const json = (v: unknown): unknown => (v === null || v === undefined ? null : JSON.parse(String(v)));

function toDelivery(r: Row): HookDeliveryRecord {
  return {
    id: String(r.id),
    repo: String(r.repo),
    provider: String(r.provider),
    delivery: String(r.delivery),
    event: json(r.event),
    bodyHash: String(r.body_hash),
    receivedAt: Number(r.received_at),
    state: String(r.state) as HookDeliveryState,
    attempts: Number(r.attempts),
    finishedAt: num(r.finished_at),
    result: json(r.result),
  };
}

const CLAIMABLE = `(state = 'pending' AND run_after <= ?) OR (state = 'processing' AND lease_expires_at <= ?)`;

export function sqlHookStore(db: () => SqlDriver): HookStore {
  const byKey = async (repo: string, provider: string, delivery: string) =>
    (await db().all(`SELECT * FROM hook_deliveries WHERE repo = ? AND provider = ? AND delivery = ?`, [repo, provider, delivery]))[0];

  return {
    async receive(d, audit) {
      const created = await db().transaction(async (tx) => {
        const inserted = await tx.run(
          `INSERT INTO hook_deliveries (id, repo, provider, delivery, event, body_hash, state, attempts, run_after, received_at)
           VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (repo, provider, delivery) DO NOTHING`,
          [d.id, d.repo, d.provider, d.delivery, JSON.stringify(d.event), d.bodyHash, d.receivedAt, d.receivedAt],
        );
        if (inserted > 0) await writeAudit(tx, audit);
        return inserted > 0;
      });
      const row = await byKey(d.repo, d.provider, d.delivery);
      if (!row) throw new Error(`hook delivery ${d.delivery} vanished after it was stored`);
      return { created, delivery: toDelivery(row) };
    },

    async claim(holder, leaseMs, now = Date.now()) {
      for (let i = 0; i < 5; i++) {
        const candidates = await db().all(`SELECT id FROM hook_deliveries WHERE ${CLAIMABLE} ORDER BY received_at, id LIMIT 5`, [now, now]);
        if (candidates.length === 0) return undefined;
        for (const c of candidates) {
          const taken = await db().run(
            `UPDATE hook_deliveries SET state = 'processing', holder = ?, lease_expires_at = ?, attempts = attempts + 1
             WHERE id = ? AND (${CLAIMABLE})`,
            [holder, now + leaseMs, String(c.id), now, now],
          );
          if (taken > 0) {
            const row = (await db().all(`SELECT * FROM hook_deliveries WHERE id = ?`, [String(c.id)]))[0];
            if (row) return toDelivery(row);
          }
        }
      }
      return undefined;
    },

    async settle(id, holder, outcome, now = Date.now()) {
      const result = JSON.stringify(outcome.result ?? null);
      const changed =
        outcome.state === "pending"
          ? await db().run(
              `UPDATE hook_deliveries SET state = 'pending', holder = NULL, lease_expires_at = NULL, run_after = ?, result = ?
               WHERE id = ? AND holder = ? AND state = 'processing'`,
              [outcome.runAfter, result, id, holder],
            )
          : await db().run(
              `UPDATE hook_deliveries SET state = ?, holder = NULL, lease_expires_at = NULL, finished_at = ?, result = ?
               WHERE id = ? AND holder = ? AND state = 'processing'`,
              [outcome.state, now, result, id, holder],
            );
      return changed > 0;
    },

    async get(id) {
      const row = (await db().all(`SELECT * FROM hook_deliveries WHERE id = ?`, [id]))[0];
      return row ? toDelivery(row) : undefined;
    },

    async list(query = {}) {
      const limit = Math.max(1, Math.min(query.limit ?? 50, 1000));
      const rows =
        query.repo === undefined
          ? await db().all(`SELECT * FROM hook_deliveries ORDER BY received_at DESC, id DESC LIMIT ${limit}`)
          : await db().all(`SELECT * FROM hook_deliveries WHERE repo = ? ORDER BY received_at DESC, id DESC LIMIT ${limit}`, [query.repo]);
      return rows.map(toDelivery);
    },

    async addStatus(row, now = Date.now()) {
      await db().run(
        `INSERT INTO hook_statuses (run_id, delivery_id, target, reported, attempts, next_at) VALUES (?, ?, ?, '', 0, ?)
         ON CONFLICT (run_id) DO NOTHING`,
        [row.runId, row.deliveryId, JSON.stringify(row.target), now],
      );
    },

    async dueStatuses(now = Date.now(), limit = 50) {
      const rows = await db().all(
        `SELECT s.*, r.status AS run_status FROM hook_statuses s JOIN runs r ON r.id = s.run_id
         WHERE s.next_at <= ? AND s.reported NOT IN ('success', 'failure', 'abandoned')
           AND NOT (s.reported = 'pending' AND r.status = 'running')
         ORDER BY s.next_at LIMIT ${Math.max(1, Math.min(limit, 1000))}`,
        [now],
      );
      return rows.map((r): HookStatusRecord => ({
        runId: String(r.run_id),
        deliveryId: String(r.delivery_id),
        target: json(r.target),
        reported: String(r.reported),
        attempts: Number(r.attempts),
        runStatus: String(r.run_status),
      }));
    },

    async statusReported(runId, outcome) {
      if ("reported" in outcome)
        await db().run(`UPDATE hook_statuses SET reported = ?, attempts = 0, last_error = NULL WHERE run_id = ?`, [
          outcome.reported,
          runId,
        ]);
      else
        await db().run(`UPDATE hook_statuses SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE run_id = ?`, [
          outcome.error,
          outcome.nextAt,
          runId,
        ]);
    },
  };
}
