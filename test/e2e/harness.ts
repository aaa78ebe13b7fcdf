/**
 * End-to-end scenario harness: each `fixtures/NN_name/` holds a
 * `workflow.ts` and an `expected.json`. The fixture is copied to a temp dir
 * and run with the built CLI (`bin/gantry.js run -f workflow.ts`); the JSON
 * event stream, exit code, outputs and run log files are compared with the
 * expectation. No wall-clock asserts: delays are read from events.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ServiceName } from "../support/services.js";

export const repoRoot = resolve(import.meta.dirname, "../..");
export const cliPath = join(repoRoot, "bin/gantry.js");
export const fixturesDir = join(import.meta.dirname, "fixtures");

export interface Expected {
  /** Extra arguments after `run -f workflow.ts`. */
  args?: string[];
  /** Environment for the CLI on top of the test's (values may use {{fixture}} and {{sops}}). */
  env?: Record<string, string>;
  /** Log formats to run the scenario with; the first one's events are checked (json is always added for the checks). */
  formats?: Array<"plain" | "pretty">;
  exitCode: number;
  jobs?: Record<string, string>;
  steps?: Record<string, string[]>;
  /** Retry delays per `job/stepIndex`, read from step.retry events. */
  retryDelays?: Record<string, number[]>;
  attempts?: Record<string, number>;
  outputs?: Record<string, Record<string, string>>;
  /** Substrings that must appear in some log line of the job (key `*` = any job). */
  logsContain?: Record<string, string[]>;
  /** Substrings that must not appear anywhere: stdout, stderr, run log files, plan. */
  neverSeen?: string[];
  stderrContains?: string[];
  /** Send a signal when a log line containing `afterLine` shows up. */
  interrupt?: { afterLine: string; signal: "SIGINT" | "SIGTERM" };
  /** Files (relative to the fixture copy) holding pids that must not be alive after the run. */
  deadPids?: string[];
  /** Services the scenario needs (test/support/services.ts): skipped without them, failed under GANTRY_REQUIRE_SERVICES=1. */
  requires?: ServiceName[];
  /** Jobs that started (job.started), in any order: what really ran, as opposed to cached or reused. */
  started?: string[];
  /** Later commands in the same fixture copy, each checked like the first run (`args` are the whole command line). */
  then?: FollowUp[];
}

export interface FollowUp extends Omit<Expected, "then" | "args" | "formats" | "neverSeen" | "interrupt" | "requires"> {
  args: string[];
  /** Files to write (relative to the fixture copy) before the command. */
  write?: Record<string, string>;
}

export interface ScenarioResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  events: Array<Record<string, any>>;
  dir: string;
}

export function listFixtures(): string[] {
  return readdirSync(fixturesDir)
    .filter((d) => statSync(join(fixturesDir, d)).isDirectory())
    .sort();
}

export function readExpected(name: string): Expected {
  return JSON.parse(readFileSync(join(fixturesDir, name, "expected.json"), "utf8")) as Expected;
}

export function prepareFixture(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gantry-e2e-${name.slice(0, 20)}-`));
  cpSync(join(fixturesDir, name), dir, { recursive: true });
  return dir;
}

export function runCli(
  dir: string,
  args: string[],
  env: Record<string, string>,
  interrupt?: Expected["interrupt"],
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (interrupt && !sent && stdout.includes(interrupt.afterLine)) {
        sent = true;
        child.kill(interrupt.signal);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ exitCode: code, stdout, stderr }));
  });
}

export function parseEvents(stdout: string): Array<Record<string, any>> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** Every file under `dir`, concatenated: used to prove a secret is in no sink. */
export function readTree(dir: string): string {
  let out = "";
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out += readFileSync(join(entry.parentPath, entry.name), "utf8");
  }
  return out;
}
