import { join } from "node:path";
import { describeQueueStoreConformance } from "../../src/store/queue/conformance.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

describeQueueStoreConformance("sqlite", async ({ dir }) => ({ store: openSqliteStore({ path: join(dir, "state", "gantry.db") }) }));
