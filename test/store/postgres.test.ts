import { join } from "node:path";
import { afterAll, describe } from "vitest";
import { describeStoreConformance } from "../../src/store/conformance.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { requireService } from "../support/services.js";
import { dropCreatedSchemas, freshSchemaName, runSql, TEST_DATABASE_URL } from "./pg-harness.js";

const missing = await requireService("postgres", "postgres store conformance");

describe.skipIf(missing)("postgres", () => {
  afterAll(dropCreatedSchemas);
  describeStoreConformance("postgres", async ({ dir }) => {
    const schema = freshSchemaName("gantry_conf");
    const url = `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes("?") ? "&" : "?"}schema=${schema}`;
    const store = openPostgresStore({ url, blobDir: join(dir, "blobs") });
    return { store, exec: (sql) => runSql(sql, schema) };
  });
});
