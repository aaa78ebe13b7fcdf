/**
 * Container engines for tests: finds Docker and Podman, starts a daemon
 * that is installed but not running (stopped again in `stopStartedEngines`),
 * and makes sure the local test images exist (scripts/build-test-images.sh).
 *
 * A suite whose engine is missing is skipped with one printed line, except
 * under GANTRY_REQUIRE_SERVICES=1 (CI), where it fails.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { clientFor, probeEngine } from "../../src/executors/container/engine.js";
import type { EngineKind } from "../../src/executors/container/engine.js";

export const BUSYBOX = "gantry-test/busybox:1";
export const DEBIAN = "gantry-test/debian:12";
export const NOSHELL = "gantry-test/noshell:1";
export const TEST_IMAGES = [BUSYBOX, DEBIAN, NOSHELL] as const;

export interface TestEngine {
  readonly kind: EngineKind;
  /** `unix:///...`: the value for the executor's `engine` option. */
  readonly address: string;
}

const SOCKETS: Record<EngineKind, string> = {
  docker: "unix:///var/run/docker.sock",
  podman: "unix:///run/podman/podman.sock",
};

const started: ChildProcess[] = [];
const found = new Map<EngineKind, Promise<TestEngine | string>>();

async function waitFor(address: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await probeEngine({ source: "test", address }, 1_000)).ok) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

function startDaemon(kind: EngineKind): ChildProcess | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (kind === "docker") {
    if (spawnSync("sh", ["-c", "command -v dockerd"]).status !== 0) return undefined;
    return spawn("dockerd", [], { stdio: "ignore", detached: true });
  }
  if (spawnSync("sh", ["-c", "command -v podman"]).status !== 0) return undefined;
  mkdirSync("/run/podman", { recursive: true });
  return spawn("podman", ["system", "service", "--time=0", SOCKETS.podman], { stdio: "ignore", detached: true });
}

async function imagesPresent(address: string): Promise<boolean> {
  const docker = clientFor(address);
  for (const image of TEST_IMAGES) {
    try {
      await docker.getImage(image).inspect();
    } catch {
      return false;
    }
  }
  return true;
}

async function locate(kind: EngineKind): Promise<TestEngine | string> {
  const address = SOCKETS[kind];
  let probe = await probeEngine({ source: "test", address });
  if (!probe.ok) {
    const child = startDaemon(kind);
    if (!child) return `${kind} is not installed or not running at ${address} (${probe.reason ?? "no answer"})`;
    started.push(child);
    child.unref();
    if (!(await waitFor(address, 30_000))) return `${kind} did not start at ${address}`;
    probe = await probeEngine({ source: "test", address });
  }
  if (probe.kind !== kind) return `${address} answers as ${probe.kind ?? "unknown"}, not ${kind}`;
  if (!(await imagesPresent(address))) {
    const script = resolve(import.meta.dirname, "../../scripts/build-test-images.sh");
    if (existsSync(script)) spawnSync("bash", [script], { stdio: "ignore" });
    if (!(await imagesPresent(address)))
      return `the test images (${TEST_IMAGES.join(", ")}) are missing on ${kind}; run scripts/build-test-images.sh`;
  }
  return { kind, address };
}

/** The engine, or the reason it is unavailable (a string). */
export function findEngine(kind: EngineKind): Promise<TestEngine | string> {
  let p = found.get(kind);
  if (!p) {
    p = locate(kind);
    found.set(kind, p);
  }
  return p;
}

/**
 * The engine for a suite, or `undefined` after printing one line saying why
 * it is skipped. Throws when services are required (GANTRY_REQUIRE_SERVICES=1).
 */
export async function engineForSuite(kind: EngineKind, suite: string): Promise<TestEngine | undefined> {
  const engine = await findEngine(kind);
  if (typeof engine !== "string") return engine;
  if (process.env.GANTRY_REQUIRE_SERVICES === "1") throw new Error(`${suite}: GANTRY_REQUIRE_SERVICES=1 but ${engine}`);
  console.log(`skipping ${suite}: ${engine}`);
  return undefined;
}

/** Stop the daemons this process started (by pid). */
export function stopStartedEngines(): void {
  for (const child of started.splice(0)) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGTERM");
      } catch {
        // gone already
      }
    }
  }
}
