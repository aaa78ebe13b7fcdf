import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { describeStoreConformance } from "../../src/store/conformance.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { dropCreatedSchemas, freshSchemaName, requirePostgres, runSql, TEST_DATABASE_URL } from "./pg-harness.js";

if (await requirePostgres("postgres store conformance")) {
  afterAll(dropCreatedSchemas);
  describeStoreConformance("postgres", async ({ dir }) => {
    const schema = freshSchemaName("gantry_conf");
    const url = `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes("?") ? "&" : "?"}schema=${schema}`;
    const store = openPostgresStore({ url, blobDir: join(dir, "blobs") });
    return { store, exec: (sql) => runSql(sql, schema) };
  });
} else {
  describe.skip("store conformance: postgres", () => it("needs PostgreSQL", () => undefined));
}
