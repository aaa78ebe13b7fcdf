/**
 * `requireService` and the skip summary, through a real child `vitest run`
 * on suites that need every kind of service, with each service pointed
 * nowhere (the machine of a new contributor): green, each missing service
 * named once; and the same run fails under GANTRY_REQUIRE_SERVICES=1.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../cli/helpers.js";
import { SKIPS_DIR_ENV } from "./services.js";

const vitestBin = join(repoRoot, "node_modules", "vitest", "vitest.mjs");

/** The suites that once threw at collection or started a daemon when their service was missing. */
const SUITES = ["test/e2e/containers.test.ts", "test/store/postgres.test.ts", "test/executors/ssh-conformance.test.ts"];

const NOWHERE = {
  GANTRY_TEST_DATABASE_URL: "postgres://postgres@127.0.0.1:1/test",
  GANTRY_TEST_DOCKER_HOST: "unix:///nonexistent/gantry-test/docker.sock",
  GANTRY_TEST_PODMAN_HOST: "unix:///nonexistent/gantry-test/podman.sock",
  GANTRY_TEST_SSHD: "/nonexistent/gantry-test/sshd",
};

function vitest(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env, NO_COLOR: "1", CI: "1" };
  delete childEnv[SKIPS_DIR_ENV];
  delete childEnv.GANTRY_REQUIRE_SERVICES;
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, [vitestBin, "run", "--typecheck.enabled=false", ...SUITES], {
    cwd: repoRoot,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("requireService without the services", () => {
  it("skips the suites, green, naming each missing service once", async () => {
    const { code, out } = await vitest(NOWHERE);
    expect(code, out).toBe(0);
    for (const label of ["Docker", "Podman", "PostgreSQL", "sshd"]) {
      const lines = out.split("\n").filter((l) => l.startsWith(`skipped without ${label} (`));
      expect(lines, `${label} in:\n${out}`).toHaveLength(1);
    }
    expect(out).toMatch(
      /^skipped without Docker \(nothing answers at unix:\/\/\/nonexistent\/gantry-test\/docker\.sock .*\): container CLI runs on docker$/m,
    );
    expect(out).toMatch(
      /^skipped without PostgreSQL \(postgres:\/\/postgres@127\.0\.0\.1:1\/test is unreachable .*\): postgres store conformance$/m,
    );
    expect(out).not.toContain("Cannot read properties of undefined");
  }, 120_000);

  it("fails them under GANTRY_REQUIRE_SERVICES=1, naming the service", async () => {
    const { code, out } = await vitest({ ...NOWHERE, GANTRY_REQUIRE_SERVICES: "1" });
    expect(code, out).toBe(1);
    expect(out).toContain("container CLI runs on docker needs Docker (GANTRY_REQUIRE_SERVICES=1): nothing answers at");
    expect(out).toContain("postgres store conformance needs PostgreSQL (GANTRY_REQUIRE_SERVICES=1)");
    expect(out).toContain("ssh executor conformance needs sshd (GANTRY_REQUIRE_SERVICES=1)");
    expect(out).not.toMatch(/^skipped without/m);
  }, 120_000);
});
