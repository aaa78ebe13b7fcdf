import { join } from "node:path";
import { afterAll, describe } from "vitest";
import { describeQueueStoreConformance } from "../../src/store/queue/conformance.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { dropCreatedSchemas, freshSchemaName, runSql, TEST_DATABASE_URL } from "../store/pg-harness.js";
import { requireService } from "../support/services.js";

const missing = await requireService("postgres", "postgres queue conformance");

describe.skipIf(missing)("postgres", () => {
  afterAll(dropCreatedSchemas);
  const schemas = new Map<string, string>();
  describeQueueStoreConformance("postgres", async ({ dir }) => {
    // One schema per test directory: `reopen` (a second server) gets the same one.
    let schema = schemas.get(dir);
    if (!schema) schemas.set(dir, (schema = freshSchemaName("gantry_queue")));
    const url = `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes("?") ? "&" : "?"}schema=${schema}`;
    return { store: openPostgresStore({ url, blobDir: join(dir, "blobs") }), exec: (sql) => runSql(sql, schema) };
  });
});
