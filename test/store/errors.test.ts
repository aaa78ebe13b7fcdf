/** Bad input: one clear sentence each, nothing overwritten. */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GantryError } from "../../src/core/errors.js";
import { pendingMigrations } from "../../src/store/migrations/index.js";
import { openStore } from "../../src/store/open.js";
import { openPostgresStore, postgresError, redactUrl } from "../../src/store/postgres-store.js";
import { bundleFixture } from "./bundle-fixture.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gantry-store-err-"));
});
afterEach(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

async function openError(options: Parameters<typeof openStore>[0]): Promise<GantryError> {
  const error = await openStore(options).then(
    async (s) => {
      await s.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GantryError);
  return error as GantryError;
}

describe("store errors", () => {
  it("a corrupt SQLite file: one sentence naming the file, and the file is left as it was", async () => {
    const state = join(dir, ".gantry", "state");
    mkdirSync(state, { recursive: true });
    const file = join(state, "gantry.db");
    const garbage = "this is not a database, it is a shopping list\n".repeat(200);
    writeFileSync(file, garbage);
    const error = await openError({ repoDir: dir, env: {} });
    expect(error.code).toBe("STORE_FAILED");
    expect(error.message).toMatch(
      new RegExp(`^the state database at ${file} is corrupt or not a SQLite database \\(.+\\); it was left untouched`),
    );
    expect(error.message.split("\n")).toHaveLength(1);
    expect(readFileSync(file, "utf8")).toBe(garbage);
  });

  it("a read-only SQLite file: one sentence naming the file, the file unchanged", async () => {
    const first = await openStore({ repoDir: dir, env: {} });
    await first.close();
    const state = join(dir, ".gantry", "state");
    const file = join(state, "gantry.db");
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    chmodSync(file, 0o444);
    chmodSync(state, 0o555);
    chmodSync(dir, 0o755);
    const before = readFileSync(file);
    // Root ignores file modes: open it as an unprivileged user then.
    const child = await bundleFixture("open-child");
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const result = spawnSync(process.execPath, [child, dir], { encoding: "utf8", ...asUser });
    expect(result.stdout.trim()).toMatch(
      new RegExp(
        `^STORE_FAILED: the state database at ${file} cannot be written \\(attempt to write a readonly database\\); check the permissions`,
      ),
    );
    expect(readFileSync(file).equals(before)).toBe(true);
    chmodSync(state, 0o755);
  });

  it("a database from a newer Gantry is refused and left untouched", () => {
    expect(() => pendingMigrations([1, 2, 3], "/x/gantry.db", [{ version: 1, name: "a", sqlite: "", postgres: "" }])).toThrow(
      "the database at /x/gantry.db has schema version 3, newer than this Gantry (1); upgrade Gantry",
    );
    expect(
      pendingMigrations([1], "x", [
        { version: 2, name: "b", sqlite: "", postgres: "" },
        { version: 1, name: "a", sqlite: "", postgres: "" },
      ]).map((m) => m.version),
    ).toEqual([2]);
  });

  it("an unreachable PostgreSQL URL: one sentence, the password not shown", async () => {
    const error = await openError({ repoDir: dir, url: "postgres://gantry:s3cret@127.0.0.1:1/nothing" });
    expect(error.code).toBe("STORE_FAILED");
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      "cannot connect to PostgreSQL at postgres://gantry:***@127.0.0.1:1/nothing: connection refused (is the server running?)",
    );
  });

  it("a wrong password, a missing database, a bad URL, a bad schema name", () => {
    expect(
      postgresError({ code: "28P01", message: 'password authentication failed for user "gantry"' }, "postgres://gantry:***@db/x").message,
    ).toBe('PostgreSQL at postgres://gantry:***@db/x rejected the password (password authentication failed for user "gantry")');
    expect(postgresError({ code: "3D000", message: 'database "x" does not exist' }, "L").message).toBe(
      'PostgreSQL at L: database "x" does not exist; create it first',
    );
    expect(() => openPostgresStore({ url: "mysql://a@b/c", blobDir: dir })).toThrow(
      "the database URL must start with postgres:// (got mysql://)",
    );
    expect(() => openPostgresStore({ url: "postgres://a@b/c?schema=x;drop", blobDir: dir })).toThrow(
      'the PostgreSQL schema name "x;drop" is not a plain identifier',
    );
    expect(redactUrl("postgres://u:pw@h:5/d?schema=s")).toBe("postgres://u:***@h:5/d?schema=s");
  });
});
