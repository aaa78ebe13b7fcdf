import { execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "../../src/core/definition.js";
import type { EnvProvider } from "../../src/core/definition.js";
import { GantryError } from "../../src/core/errors.js";
import { resolveEnv } from "../../src/env/resolve.js";
import type { ResolveEnvOptions } from "../../src/env/resolve.js";
import { SOPS_FIXTURES, requireService } from "../support/services.js";

const FIXTURES = `${SOPS_FIXTURES}/`;
const noSops = await requireService("sops", "the sops provider tests of resolveEnv");

let repo: string;
const base = (): ResolveEnvOptions => ({ repoDir: repo, workflowFile: ".gantry/ci.ts", workflowName: "ci", processEnv: {} });

async function failure(promise: Promise<unknown>): Promise<GantryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GantryError);
  return error as GantryError;
}

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), "gantry-env-"));
  await mkdir(join(repo, "config"));
  await writeFile(join(repo, ".env"), 'L1=file\nL2=file\nL3=file\nL4=file\nL5=file\nL6=file\nL7=file\n# comment\nQUOTED="a b"\n');
  await writeFile(join(repo, "config", "later.env"), "L2=later\nL3=later\nL4=later\nL5=later\nL6=later\nL7=later\n");
  await writeFile(join(repo, "cli.env"), "L3=env-file\nL4=env-file\nL5=env-file\nL6=env-file\nL7=env-file\n");
  await writeFile(join(repo, "cli-secret.env"), "L4=secret-file\nL5=secret-file\nL6=secret-file\nL7=secret-file\n");
  await writeFile(join(repo, "secret.env"), "API_KEY=key-from-file\nSHORT=ab\n");
});
afterAll(async () => {
  if (repo) await rm(repo, { recursive: true, force: true });
});

describe("resolveEnv", () => {
  it("applies static < file < later providers < --env-file < --secret-file < --env < --secret", async () => {
    const providers: EnvProvider[] = [
      env.static({ L0: "static", L1: "static", L2: "static", L3: "static", L4: "static", L5: "static", L6: "static", L7: "static" }),
      env.file(".env"),
      env.file("config/later.env"),
    ];
    const result = await resolveEnv(providers, {
      ...base(),
      processEnv: { PATH: "/usr/bin", L0: "process" },
      cli: {
        envFiles: [join(repo, "cli.env")],
        secretFiles: ["cli-secret.env"],
        env: { L5: "env", L6: "env", L7: "env" },
        secrets: { L6: "secret", L7: "secret" },
      },
    });
    expect(result.values).toEqual({
      L0: "static",
      L1: "file",
      L2: "later",
      L3: "env-file",
      L4: "secret-file",
      L5: "env",
      L6: "secret",
      L7: "secret",
      QUOTED: "a b",
    });
    expect(result.sources).toMatchObject({
      L0: "static",
      L1: "file .env",
      L2: "file config/later.env",
      L3: `cli --env-file ${join(repo, "cli.env")}`,
      L4: "cli --secret-file cli-secret.env",
      L5: "cli --env",
      L6: "cli --secret",
    });
    expect(result.values).not.toHaveProperty("PATH");
    // secret-ness sticks to the key: --env cannot make a --secret-file value printable
    expect([...result.secretKeys].sort()).toEqual(["L4", "L5", "L6", "L7"]);
    expect(result.secretValues.sort()).toEqual(["env", "secret", "secret-file"]);
  });

  it("marks static and file secrets, skips empty values, and dedupes secret values", async () => {
    const result = await resolveEnv(
      [
        env.static({ TOKEN: "tok-123", EMPTY: "", PUBLIC: "yes" }, { secret: true }),
        env.static({ PUBLIC: "yes" }),
        env.file("secret.env", { secret: true }),
      ],
      {
        ...base(),
        cli: { secrets: { OTHER: "tok-123" } },
      },
    );
    expect([...result.secretKeys].sort()).toEqual(["API_KEY", "EMPTY", "OTHER", "PUBLIC", "SHORT", "TOKEN"]);
    expect(result.secretValues.sort()).toEqual(["ab", "key-from-file", "tok-123", "yes"]);
  });

  it("skips a missing optional file and names the file and workflow for a missing one", async () => {
    const ok = await resolveEnv([env.file("nope.env", { optional: true }), env.static({ A: "1" })], base());
    expect(ok.values).toEqual({ A: "1" });
    const error = await failure(resolveEnv([env.file("nope.env")], base()));
    expect(error.code).toBe("ENV_INVALID");
    expect(error.message).toBe(
      '.gantry/ci.ts: workflow "ci": env file nope.env does not exist; create it or mark it optional: env.file(path, { optional: true }).',
    );
    const cli = await failure(resolveEnv([], { ...base(), cli: { envFiles: ["missing.env"] } }));
    expect(cli.message).toContain("--env-file");
    expect(cli.message).toContain("missing.env does not exist");
  });

  it("fails with ENV_MISSING naming the variable, workflow and file", async () => {
    const error = await failure(resolveEnv([env.required("NPM_TOKEN")], base()));
    expect(error.code).toBe("ENV_MISSING");
    expect(error.message).toBe(
      '.gantry/ci.ts: workflow "ci" needs NPM_TOKEN; set it in the environment or pass --env NPM_TOKEN=... / --secret NPM_TOKEN=...',
    );
    const several = await failure(
      resolveEnv([env.required("A", "B"), env.required("C", "A")], { ...base(), processEnv: { B: "set", C: "" } }),
    );
    expect(several.message).toBe(
      '.gantry/ci.ts: workflow "ci" needs A, C; set them in the environment or pass --env A=... / --secret A=...',
    );
  });

  it("satisfies required from the process env, earlier providers and the command line, not from later providers", async () => {
    const providers = [
      env.static({ EARLY: "1" }),
      env.required("FROM_PROCESS", "EARLY", "FROM_CLI", "FROM_SECRET"),
      env.static({ LATE: "1" }),
    ];
    const result = await resolveEnv(providers, {
      ...base(),
      processEnv: { FROM_PROCESS: "p" },
      cli: { env: { FROM_CLI: "c" }, secrets: { FROM_SECRET: "s3cret" } },
    });
    expect(result.values).toEqual({ EARLY: "1", LATE: "1", FROM_CLI: "c", FROM_SECRET: "s3cret" });
    const late = await failure(resolveEnv([env.required("LATE"), env.static({ LATE: "1" })], base()));
    expect(late.code).toBe("ENV_MISSING");
  });

  it("rejects malformed static values and --env names", async () => {
    const bad = await failure(resolveEnv([env.static({ N: 5 as unknown as string })], base()));
    expect(bad.message).toBe('.gantry/ci.ts: workflow "ci": env[0]: env.static() value of N must be a string, not number.');
    const flag = await failure(resolveEnv([], { ...base(), cli: { env: { "A=B": "x" } } }));
    expect(flag.message).toContain("--env needs NAME=VALUE");
  });
});

describe.skipIf(noSops)("resolveEnv with sops", () => {
  let gnupg: string;
  let gpgEnv: Record<string, string | undefined>;
  beforeAll(async () => {
    gnupg = await mkdtemp(join(tmpdir(), "gantry-gnupg-"));
    gpgEnv = { ...process.env, GNUPGHOME: gnupg };
    execFileSync("gpg", ["--batch", "--quiet", "--import", join(FIXTURES, "sops_functional_tests_key.asc")], {
      env: gpgEnv,
      stdio: "ignore",
    });
    await copyFile(join(FIXTURES, "comments.enc.yaml"), join(repo, "secrets.enc.yaml"));
  });
  afterAll(async () => {
    try {
      execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: gpgEnv, stdio: "ignore" });
    } catch {
      // no agent
    }
    if (gnupg) await rm(gnupg, { recursive: true, force: true });
  });

  it("decrypts env.sops values as secrets, and --secret-file sops files", async () => {
    const result = await resolveEnv(
      [env.static({ lorem: "public" }), env.sops("secrets.enc.yaml"), env.sops("absent.enc.yaml", { optional: true })],
      {
        ...base(),
        processEnv: gpgEnv,
        cli: { secretFiles: [join(FIXTURES, "format.enc.json")] },
      },
    );
    expect(result.values).toEqual({ lorem: "ipsum", dolor: "sit", foo: "bar" });
    expect(result.sources).toEqual({
      lorem: "sops secrets.enc.yaml",
      dolor: "sops secrets.enc.yaml",
      foo: `cli --secret-file ${join(FIXTURES, "format.enc.json")}`,
    });
    expect([...result.secretKeys].sort()).toEqual(["dolor", "foo", "lorem"]);
    expect(result.secretValues.sort()).toEqual(["bar", "ipsum", "sit"]);
  });

  it("reports a sops file that cannot be decrypted", async () => {
    const empty = await mkdtemp(join(tmpdir(), "gantry-gnupg-"));
    try {
      const error = await failure(
        resolveEnv([env.sops("secrets.enc.yaml")], { ...base(), processEnv: { ...process.env, GNUPGHOME: empty } }),
      );
      expect(error.code).toBe("ENV_INVALID");
      expect(error.message).toMatch(/^secrets\.enc\.yaml: no PGP key in your keyring .* FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4/);
      const missing = await failure(resolveEnv([env.sops("gone.enc.yaml")], base()));
      expect(missing.message).toContain("gone.enc.yaml: cannot read the sops file");
    } finally {
      try {
        execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: empty }, stdio: "ignore" });
      } catch {
        // no agent
      }
      await rm(empty, { recursive: true, force: true });
    }
  });
});
