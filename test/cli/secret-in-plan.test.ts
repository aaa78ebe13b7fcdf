/**
 * A secret interpolated into a `sh` template at definition time ends up in
 * the step's script and default name. It must not be written in full
 * anywhere: terminal (plain and JSON), events.jsonl and job logs (`--log-dir`), plan.json, the SQLite
 * store, `gantry show`, `gantry logs` and `--dry-run`; and the PostgreSQL store (every text column of
 * every table of a fresh schema), with `show` and `logs` reading it.
 */
import { readdirSync, readFileSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { dropCreatedSchemas, freshSchemaName, TEST_DATABASE_URL } from "../store/pg-harness.js";
import { requireService } from "../support/services.js";
import { gantry, tempDir } from "./helpers.js";

const SECRET = "tok-4f9a2c7e1b/x+y=z";

function repo(): string {
  const dir = tempDir("secret-plan");
  mkdirSync(join(dir, ".gantry"));
  writeFileSync(
    join(dir, ".gantry", "ci.ts"),
    'import { job, sh, workflow } from "gantry";\n' +
      "export default workflow({ name: \"ci\", jobs: { deploy: job({ steps: [sh`echo deploy --token ${process.env.DEFS_TOKEN ?? 'unset'}`] }) } });\n",
  );
  return dir;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

describe("a secret in a step's script and name", () => {
  it("is masked in every sink, and the step still runs with the real value", async () => {
    const dir = repo();
    const env = { DEFS_TOKEN: SECRET };
    const args = ["--secret", `DEFS_TOKEN=${SECRET}`];
    const plain = await gantry(["run", "--log-format", "plain", "--log-dir", join(dir, ".gantry", "state", "logs"), ...args], {
      cwd: dir,
      env,
    });
    expect(plain.code, plain.stderr).toBe(0);
    const json = await gantry(["run", "--log-format", "json", ...args], { cwd: dir, env });
    expect(json.code, json.stderr).toBe(0);
    const dry = await gantry(["run", "--dry-run", ...args], { cwd: dir, env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("echo deploy --token ***");
    const runs = readdirSync(join(dir, ".gantry", "state", "runs")).sort();
    expect(runs).toHaveLength(2);
    const show = await gantry(["show", runs[0]!], { cwd: dir });
    const logs = await gantry(["logs", runs[0]!], { cwd: dir });
    expect(show.code, show.stderr).toBe(0);
    expect(logs.code, logs.stderr).toBe(0);
    // the step ran with the real token (its output is masked like any output)
    expect(plain.stdout).toContain("deploy --token ***");
    expect(show.stdout).toContain("echo deploy --token ***");
    for (const [sink, text] of Object.entries({
      plain: plain.stdout + plain.stderr,
      json: json.stdout + json.stderr,
      dryRun: dry.stdout + dry.stderr,
      show: show.stdout + show.stderr,
      logs: logs.stdout + logs.stderr,
    })) {
      expect(text.includes(SECRET), `${sink} shows the secret`).toBe(false);
    }
    const state = join(dir, ".gantry", "state");
    const written = filesUnder(state).filter((f) => !f.includes(`${join(state, "bundles")}`));
    expect(written.some((f) => f.endsWith("plan.json"))).toBe(true);
    expect(written.some((f) => f.endsWith("events.jsonl"))).toBe(true);
    expect(written.some((f) => f.endsWith("gantry.db")) || existsSync(join(state, "gantry.db"))).toBe(true);
    for (const file of written) {
      expect(readFileSync(file).includes(Buffer.from(SECRET)), `${file} holds the secret`).toBe(false);
    }
  }, 120_000);
});

describe("a secret in a step's script and name, on PostgreSQL", () => {
  afterAll(dropCreatedSchemas);

  it("is in no row of the PostgreSQL store, nor in show and logs read from it", async (ctx) => {
    const missing = await requireService("postgres", "step-name redaction on the PostgreSQL store");
    if (missing) return ctx.skip(missing);
    const dir = repo();
    const schema = freshSchemaName("secret_plan");
    const url = `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes("?") ? "&" : "?"}schema=${schema}`;
    const env = { DEFS_TOKEN: SECRET, GANTRY_DATABASE_URL: url };
    const run = await gantry(["run", "--log-format", "json", "--secret", `DEFS_TOKEN=${SECRET}`], { cwd: dir, env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.includes(SECRET)).toBe(false);
    const show = await gantry(["show", "last"], { cwd: dir, env: { GANTRY_DATABASE_URL: url } });
    const logs = await gantry(["logs", "last"], { cwd: dir, env: { GANTRY_DATABASE_URL: url } });
    expect(show.code, show.stderr).toBe(0);
    expect(logs.code, logs.stderr).toBe(0);
    expect(show.stdout).toContain("echo deploy --token ***");
    expect((show.stdout + logs.stdout).includes(SECRET)).toBe(false);

    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
        [schema],
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(["runs", "jobs", "steps", "plans"]));
      let rows = 0;
      for (const { table_name } of tables.rows) {
        const result = await client.query(`SELECT * FROM "${schema}"."${table_name}"`);
        rows += result.rowCount ?? 0;
        for (const row of result.rows) {
          const text = JSON.stringify(row, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString("latin1") : v));
          expect(text.includes(SECRET), `${table_name} holds the secret: ${text.slice(0, 300)}`).toBe(false);
        }
      }
      expect(rows).toBeGreaterThan(3);
    } finally {
      await client.end();
    }
  }, 120_000);
});
