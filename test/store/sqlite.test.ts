import { join } from "node:path";
import Database from "better-sqlite3";
import { describeStoreConformance } from "../../src/store/conformance.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

describeStoreConformance("sqlite", async ({ dir }) => {
  const path = join(dir, "state", "gantry.db");
  const store = openSqliteStore({ path });
  return {
    store,
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
