import { join } from "node:path";
import Database from "better-sqlite3";
import { describeQueueStoreConformance } from "../../src/store/queue/conformance.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

describeQueueStoreConformance("sqlite", async ({ dir }) => {
  const path = join(dir, "state", "gantry.db");
  return {
    store: openSqliteStore({ path }),
    exec: async (sql) => {
      const db = new Database(path);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
  };
});
