import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SOPS_FIXTURES, requireService } from "../support/services.js";
import { listFixtures, parseEvents, prepareFixture, readExpected, readTree, runCli, type Expected } from "./harness.js";

const sopsDir = SOPS_FIXTURES;
const dirs: string[] = [];
let gnupgHome: string | undefined;

/** A throw-away GNUPGHOME holding the sops test key, made once for the scenarios that need it. */
function sopsGnupgHome(): string {
  if (gnupgHome) return gnupgHome;
  gnupgHome = mkdtempSync(join(tmpdir(), "gantry-e2e-gnupg-"));
  execFileSync("gpg", ["--batch", "--quiet", "--import", join(sopsDir, "sops_functional_tests_key.asc")], {
    env: { ...process.env, GNUPGHOME: gnupgHome },
    stdio: "ignore",
  });
  return gnupgHome;
}

afterAll(() => {
  for (const dir of [...dirs, ...(gnupgHome ? [gnupgHome] : [])]) rmSync(dir, { recursive: true, force: true });
});

function substitute(env: Record<string, string> | undefined, dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env ?? {})) out[k] = v.replaceAll("{{fixture}}", dir).replaceAll("{{sops}}", sopsDir);
  return out;
}

function check(name: string, expected: Omit<Expected, "then">, result: Awaited<ReturnType<typeof runCli>>, dir: string): void {
  const context = `${name}\n--- stdout (tail)\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`;
  expect(result.exitCode, context).toBe(expected.exitCode);
  const events = parseEvents(result.stdout);
  const jobs = new Map(events.filter((e) => e.type === "job.finished").map((e) => [e.jobId as string, e]));
  for (const [job, status] of Object.entries(expected.jobs ?? {})) {
    expect(jobs.get(job)?.status, `${context}\njob ${job}`).toBe(status);
  }
  for (const [job, statuses] of Object.entries(expected.steps ?? {})) {
    const steps = events.filter((e) => e.type === "step.finished" && e.jobId === job).map((e) => e.status as string);
    expect(steps, `${context}\nsteps of ${job}`).toEqual(statuses);
  }
  for (const [key, delays] of Object.entries(expected.retryDelays ?? {})) {
    const [job, index] = [key.slice(0, key.lastIndexOf("/")), Number(key.slice(key.lastIndexOf("/") + 1))];
    const seen = events.filter((e) => e.type === "step.retry" && e.jobId === job && e.stepIndex === index).map((e) => e.delayMs as number);
    expect(seen, `${context}\nretry delays of ${key}`).toEqual(delays);
  }
  for (const [key, attempts] of Object.entries(expected.attempts ?? {})) {
    const [job, index] = [key.slice(0, key.lastIndexOf("/")), Number(key.slice(key.lastIndexOf("/") + 1))];
    const finished = events.find((e) => e.type === "step.finished" && e.jobId === job && e.stepIndex === index);
    expect(finished?.attempts, `${context}\nattempts of ${key}`).toBe(attempts);
  }
  for (const [job, outputs] of Object.entries(expected.outputs ?? {})) {
    expect(jobs.get(job)?.outputs, `${context}\noutputs of ${job}`).toEqual(outputs);
  }
  for (const [job, needles] of Object.entries(expected.logsContain ?? {})) {
    const lines = events.filter((e) => e.type === "log" && (job === "*" || e.jobId === job)).flatMap((e) => e.lines as string[]);
    for (const needle of needles)
      expect(
        lines.some((l) => l.includes(needle)),
        `${context}\n${job} logs should contain ${needle}`,
      ).toBe(true);
  }
  for (const needle of expected.stderrContains ?? []) expect(result.stderr, context).toContain(needle);
  if (expected.started) {
    const started = [...new Set(events.filter((e) => e.type === "job.started").map((e) => e.jobId as string))].sort();
    expect(started, `${context}\njobs that started`).toEqual([...expected.started].sort());
  }
  for (const file of expected.deadPids ?? []) {
    const pid = Number(readFileSync(join(dir, file), "utf8").trim());
    expect(pid, `${context}\npid file ${file}`).toBeGreaterThan(0);
    // A zombie (state Z: dead, not yet reaped by an init that never reaps) counts as gone.
    let alive = true;
    try {
      process.kill(pid, 0);
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      alive = !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? "");
    } catch {
      alive = false;
    }
    expect(alive, `${context}\nprocess ${pid} from ${file} is still running`).toBe(false);
  }
}

describe("end-to-end scenarios", () => {
  for (const name of listFixtures()) {
    const expected = readExpected(name);
    it(name, async (ctx) => {
      for (const service of expected.requires ?? []) {
        const missing = await requireService(service, `e2e scenario ${name}`);
        ctx.skip(missing !== undefined, missing);
      }
      const dir = prepareFixture(name);
      dirs.push(dir);
      const env = substitute(expected.env, dir);
      if (name.includes("sops")) {
        env.GNUPGHOME = sopsGnupgHome();
        cpSync(join(sopsDir, "format.enc.yaml"), join(dir, "secrets.enc.yaml"));
      }
      // With the opt-in run log files under .gantry/state, so the secret checks read them too.
      const args = ["run", "-f", "workflow.ts", "--log-dir", ".gantry/state/log-files", ...(expected.args ?? [])];
      const result = await runCli(dir, [...args, "--log-format", "json"], env, expected.interrupt);
      check(name, expected, result, dir);
      for (const [i, next] of (expected.then ?? []).entries()) {
        for (const [file, text] of Object.entries(next.write ?? {})) {
          mkdirSync(dirname(join(dir, file)), { recursive: true });
          writeFileSync(join(dir, file), text);
        }
        const later = await runCli(dir, [...next.args, "--log-format", "json"], { ...env, ...substitute(next.env, dir) });
        check(`${name} (then[${i}]: ${next.args.join(" ")})`, next, later, dir);
      }

      if (expected.neverSeen?.length) {
        const sinks = [result.stdout, result.stderr, existsSync(join(dir, ".gantry/state")) ? readTree(join(dir, ".gantry/state")) : ""];
        for (const format of expected.formats ?? []) {
          const other = await runCli(dir, [...args, "--log-format", format], env, expected.interrupt);
          expect(other.exitCode).toBe(expected.exitCode);
          sinks.push(other.stdout, other.stderr);
        }
        const dry = await runCli(dir, [...args, "--dry-run"], env);
        sinks.push(dry.stdout, dry.stderr, readTree(join(dir, ".gantry/state")));
        const all = sinks.join("\n");
        for (const secret of expected.neverSeen) expect(all.includes(secret), `secret ${JSON.stringify(secret)} leaked`).toBe(false);
      }
    });
  }
});
