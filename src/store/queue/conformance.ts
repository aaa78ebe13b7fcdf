/**
 * The queue conformance suite: the server's tables (migration 5) on every
 * `Store`, run by swapping the factory (as `describeStoreConformance`):
 *
 *   describeQueueStoreConformance("sqlite", async ({ dir }) => ({ store: openSqliteStore({ path: `${dir}/g.db` }) }));
 *
 * The factory gets a fresh temp directory and returns an empty, NOT yet
 * migrated store; the suite migrates it and closes it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store, StoreOp } from "../store.js";
import { queueConformanceCases } from "./conformance-cases.js";

export type QueueStoreFactory = (context: { dir: string }) => Promise<{
  readonly store: Store;
  /** Run raw SQL (no parameters) on the store's database (to plant a broken entry). */
  readonly exec: (sql: string) => Promise<void>;
}>;

export interface QueueCaseContext {
  readonly store: Store;
  readonly dir: string;
  /** Open a second store on the same database (another server process). */
  readonly reopen: () => Promise<Store>;
  readonly exec: (sql: string) => Promise<void>;
}

const run = (id: string): StoreOp => ({
  op: "run",
  run: { id, workflow: "ci", file: ".gantry/ci.ts", trigger: "api", planHash: null, startedAt: 1000, owner: null },
});

export function describeQueueStoreConformance(
  name: string,
  factory: QueueStoreFactory,
  more: (current: () => QueueCaseContext) => void = () => {},
): void {
  describe(`queue store conformance: ${name}`, () => {
    let dir: string;
    let store: Store;
    let exec: (sql: string) => Promise<void>;
    const others: Store[] = [];

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "gantry-queue-"));
      ({ store, exec } = await factory({ dir }));
      await store.migrate();
    });

    afterEach(async () => {
      for (const s of others.splice(0)) await s.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const current = (): QueueCaseContext => ({
      store,
      dir,
      exec,
      reopen: async () => {
        const other = (await factory({ dir })).store;
        others.push(other);
        return other;
      },
    });

    it("writes one audit row per audit op, in the transaction of the change", async () => {
      await store.write([
        run("r1"),
        { op: "audit", entry: { at: 5, actor: "token:ci", action: "run.trigger", target: "r1", detail: { ref: "main" } } },
      ]);
      // A failing batch leaves neither its change nor its audit row.
      await expect(
        store.write([
          { op: "audit", entry: { at: 6, actor: "token:ci", action: "run.trigger", target: "r2" } },
          { op: "job", job: { runId: "no-such-run", jobId: "j" } },
        ]),
      ).rejects.toThrow();
      const page = await store.audit.list();
      expect(page.entries).toEqual([
        { id: expect.any(Number), at: 5, actor: "token:ci", action: "run.trigger", target: "r1", detail: { ref: "main" } },
      ]);
      expect(page.next).toBeUndefined();
    });

    it("lists audit rows newest first, in pages with a cursor", async () => {
      const ops: StoreOp[] = [];
      for (let i = 1; i <= 5; i++) ops.push({ op: "audit", entry: { at: i, actor: "a", action: "x", target: `t${i}` } });
      await store.write(ops);
      const first = await store.audit.list({ limit: 2 });
      expect(first.entries.map((e) => e.target)).toEqual(["t5", "t4"]);
      const second = await store.audit.list({ limit: 2, cursor: first.next });
      expect(second.entries.map((e) => e.target)).toEqual(["t3", "t2"]);
      const third = await store.audit.list({ limit: 2, cursor: second.next });
      expect(third.entries.map((e) => e.target)).toEqual(["t1"]);
      expect(third.next).toBeUndefined();
      expect((await store.audit.list({ cursor: "not-a-cursor" })).entries).toEqual([]);
    });

    queueConformanceCases(current);
    more(current);
  });
}
