/**
 * The one way a test suite asks for a service it needs:
 *
 *   const missing = await requireService("postgres", "postgres store conformance");
 *   describe.skipIf(missing)("...", ...);          // a whole suite
 *   it("...", async (ctx) => { ctx.skip(!!missing, missing); ... });   // one test
 *
 * `requireService(name, why)` probes the service once per test file, never
 * starts one (that is scripts/provision.sh's job) and:
 *   - returns `undefined` when the service is there;
 *   - under GANTRY_REQUIRE_SERVICES=1 (CI), throws, naming the service, what
 *     needed it and why it is missing;
 *   - otherwise returns the reason (a string, for `describe.skipIf` /
 *     `ctx.skip`) and records the skip: the global setup prints one line per
 *     missing service at the end of the run, naming what was skipped.
 *
 * Where each service is looked for (override to point a suite elsewhere, or
 * nowhere to see the skips; CONTRIBUTING.md has the command):
 *   postgres  GANTRY_TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test)
 *   pg-cluster  the PostgreSQL server binaries, for a private throw-away cluster (test/store/pg-cluster.ts)
 *   docker    GANTRY_TEST_DOCKER_HOST (unix:///var/run/docker.sock), with the test images
 *   podman    GANTRY_TEST_PODMAN_HOST (unix:///run/podman/podman.sock), with the test images
 *   sshd      GANTRY_TEST_SSHD (/usr/sbin/sshd) and ssh-keygen on PATH
 *   sops      gpg on PATH and the sops fixtures in ../shared/fixtures/sops
 *   setsid    setsid on PATH
 *   root      the tests running as uid 0
 *   perl      perl on PATH, Linux (the process spawner, src/executors/shared/spawner.ts)
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import pg from "pg";
import { clientFor, probeEngine } from "../../src/executors/container/engine.js";
import { pgClusterUnavailable } from "../store/pg-cluster.js";

export type ServiceName = "postgres" | "pg-cluster" | "docker" | "podman" | "sshd" | "sops" | "setsid" | "root" | "perl";

export const TEST_DATABASE_URL = process.env.GANTRY_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
export const ENGINE_ADDRESS = {
  docker: process.env.GANTRY_TEST_DOCKER_HOST || "unix:///var/run/docker.sock",
  podman: process.env.GANTRY_TEST_PODMAN_HOST || "unix:///run/podman/podman.sock",
} as const;
export const SSHD = process.env.GANTRY_TEST_SSHD || "/usr/sbin/sshd";
export const SOPS_FIXTURES = resolve(import.meta.dirname, "../../../shared/fixtures/sops");
export const TEST_IMAGES = ["gantry-test/busybox:1", "gantry-test/debian:12", "gantry-test/noshell:1"] as const;

/** The environment variable the global setup sets to a directory collecting the skips of every test file. */
export const SKIPS_DIR_ENV = "GANTRY_TEST_SKIPS_DIR";

const LABELS: Record<ServiceName, string> = {
  postgres: "PostgreSQL",
  "pg-cluster": "the PostgreSQL server binaries",
  docker: "Docker",
  podman: "Podman",
  sshd: "sshd",
  sops: "gpg and the sops fixtures",
  setsid: "setsid",
  root: "root",
  perl: "perl",
};

function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1"', "sh", command], { stdio: "ignore" }).status === 0;
}

/** `undefined` when PostgreSQL answers, else why not. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    const e = error as Error & { code?: string; errors?: Error[] };
    const detail = e.message || e.errors?.map((x) => x.message).join("; ") || e.code || String(error);
    return `${TEST_DATABASE_URL} is unreachable (${detail}); start PostgreSQL or set GANTRY_TEST_DATABASE_URL`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function imagesMissing(address: string): Promise<string[]> {
  const docker = clientFor(address);
  const missing: string[] = [];
  for (const image of TEST_IMAGES) {
    try {
      await docker.getImage(image).inspect();
    } catch {
      missing.push(image);
    }
  }
  return missing;
}

async function engineUnavailable(kind: "docker" | "podman"): Promise<string | undefined> {
  const address = ENGINE_ADDRESS[kind];
  const probe = await probeEngine({ source: "test", address }, 3_000);
  if (!probe.ok) return `nothing answers at ${address} (${probe.reason ?? "no answer"}); run scripts/provision-containers.sh`;
  if (probe.kind !== kind) return `${address} answers as ${probe.kind ?? "an unknown engine"}, not ${kind}`;
  const missing = await imagesMissing(address);
  if (missing.length > 0) return `the test images ${missing.join(", ")} are missing on ${kind}; run scripts/build-test-images.sh`;
  return undefined;
}

const PROBES: Record<ServiceName, () => Promise<string | undefined> | string | undefined> = {
  postgres: postgresUnavailable,
  "pg-cluster": pgClusterUnavailable,
  docker: () => engineUnavailable("docker"),
  podman: () => engineUnavailable("podman"),
  sshd: () => {
    if (!existsSync(SSHD)) return `${SSHD} is not installed; run scripts/provision-sshd.sh (or set GANTRY_TEST_SSHD)`;
    if (!onPath("ssh-keygen")) return "ssh-keygen is not on PATH; run scripts/provision-sshd.sh";
    return undefined;
  },
  sops: () => {
    if (!existsSync(SOPS_FIXTURES)) return `the sops fixtures are not at ${SOPS_FIXTURES}`;
    if (!onPath("gpg")) return "gpg is not on PATH; run scripts/provision.sh";
    return undefined;
  },
  setsid: () => {
    if (process.platform !== "linux") return `the process-group tests need Linux, not ${process.platform}`;
    return onPath("setsid") ? undefined : "setsid is not on PATH (util-linux); run scripts/provision-sshd.sh";
  },
  root: () => (process.getuid?.() === 0 ? undefined : `the tests run as uid ${process.getuid?.() ?? "?"}, not root`),
  perl: () => {
    if (process.platform !== "linux") return `the process spawner tests need Linux, not ${process.platform}`;
    return onPath("perl") ? undefined : "perl is not on PATH (the process spawner needs it; Gantry spawns directly without it)";
  },
};

const probed = new Map<ServiceName, Promise<string | undefined>>();

/** Why `name` is not available here (probed once per test file), or `undefined` when it is. */
export function serviceMissing(name: ServiceName): Promise<string | undefined> {
  let p = probed.get(name);
  if (!p) {
    p = Promise.resolve().then(PROBES[name]);
    probed.set(name, p);
  }
  return p;
}

const announced = new Set<string>();

function recordSkip(name: ServiceName, why: string, reason: string): void {
  const dir = process.env[SKIPS_DIR_ENV];
  if (dir && existsSync(dir)) {
    appendFileSync(join(dir, `${name}.jsonl`), `${JSON.stringify({ label: LABELS[name], reason, why })}\n`);
    return;
  }
  // No global setup (a file run on its own by another runner): say it here, once per service.
  if (announced.has(name)) return;
  announced.add(name);
  console.log(`skipped without ${LABELS[name]}: ${why} (${reason})`);
}

/**
 * `undefined` when service `name` is available; else, under
 * GANTRY_REQUIRE_SERVICES=1, throws; else records the skip and returns the
 * reason. `why` names what needs the service ("postgres store conformance").
 */
export async function requireService(name: ServiceName, why: string): Promise<string | undefined> {
  const missing = await serviceMissing(name);
  if (missing === undefined) return undefined;
  const reason = `${LABELS[name]}: ${missing}`;
  if (process.env.GANTRY_REQUIRE_SERVICES === "1") {
    throw new Error(`${why} needs ${LABELS[name]} (GANTRY_REQUIRE_SERVICES=1): ${missing}`);
  }
  recordSkip(name, why, missing);
  return `skipped without ${reason}`;
}
