/**
 * The built CLI on the valid examples and on small temp repositories:
 * list, validate, graph, run --dry-run, workflow selection and usage errors.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gantry, tempDir } from "./helpers.js";

function repo(files: Record<string, string>): string {
  const dir = tempDir("cmd");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const wf = (name: string, jobs = "a: job({ steps: [sh`echo a`] })"): string =>
  `import { job, sh, workflow } from "gantry";\nexport default workflow({ name: ${JSON.stringify(name)}, jobs: { ${jobs} } });\n`;

describe("validate and list on the examples", () => {
  it("validate prints one ok line per valid example", async () => {
    const r = await gantry(["validate", "examples/hello.ts", "-f", "examples/matrix.ts", "-f", "examples/diamond.ts"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok {2}examples\/matrix\.ts \(workflow matrix: 6 jobs, plan [0-9a-f]{12}\)$/m);
    expect(r.stdout).toMatch(/^ok {2}examples\/diamond\.ts \(workflow diamond: 4 jobs/m);
    expect(r.stdout).toMatch(/^ok {2}examples\/hello\.ts \(workflow hello: 2 jobs/m);
    expect(r.stderr).toBe("");
  });

  it("list shows the expanded matrix: 3x2 minus one exclude = 5 test jobs, and the folded need", async () => {
    const r = await gantry(["list", "-f", "examples/matrix.ts"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("matrix  examples/matrix.ts\n  triggers: none (run by hand)\n  jobs (6):\n");
    expect(r.stdout.match(/^ {4}test \(node=\d+, os=\w+\)$/gm)).toHaveLength(5);
    expect(r.stdout).not.toContain("test (node=18, os=alpine)");
    expect(r.stdout).toMatch(/^ {4}report +needs test \(all 5\)$/m);
  });

  it("list --json gives names, files, triggers and jobs", async () => {
    const r = await gantry(["list", "--json", "-f", "examples/hello.ts"]);
    expect(r.code, r.stderr).toBe(0);
    const [hello] = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(hello).toMatchObject({ name: "hello", file: "examples/hello.ts", triggers: { manual: true } });
    expect(hello!.jobs).toEqual([
      { id: "greet", key: "greet", needs: [], executor: "local" },
      { id: "reply", key: "reply", needs: ["greet"], executor: "local" },
    ]);
    expect(hello!.plan).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("selecting a workflow", () => {
  const dir = repo({ ".gantry/ci.ts": wf("ci"), ".gantry/release.ts": wf("ship-it", "b: job({ steps: [sh`echo b`] })") });

  it("with several workflows and none named, is a usage error listing them (exit 2)", async () => {
    const r = await gantry(["graph"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("several workflows found; name one of: ci (.gantry/ci.ts), ship-it (.gantry/release.ts)");
  });

  it("by workflow name or by file stem", async () => {
    const byName = await gantry(["graph", "ship-it"], { cwd: dir });
    const byStem = await gantry(["graph", "release"], { cwd: dir });
    expect(byName.code, byName.stderr).toBe(0);
    expect(byName.stdout).toContain("ship-it (.gantry/release.ts): 1 job in 1 level");
    expect(byStem.stdout).toBe(byName.stdout);
  });

  it("an unknown name is a usage error with the known ones", async () => {
    const r = await gantry(["graph", "nope", "-C", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no workflow named "nope"; known: ci (.gantry/ci.ts), ship-it (.gantry/release.ts)');
  });

  it("a file path where the workflow name goes runs that file; a path to nothing says what to type", async () => {
    const byPath = await gantry(["run", ".gantry/release.ts", "--log-format", "plain"], { cwd: dir });
    expect(byPath.code, byPath.stderr).toBe(0);
    expect(byPath.stdout).toContain("b");
    const fromElsewhere = await gantry(["graph", join(dir, ".gantry", "release.ts"), "-C", dir]);
    expect(fromElsewhere.code, fromElsewhere.stderr).toBe(0);
    expect(fromElsewhere.stdout).toContain("ship-it (.gantry/release.ts)");
    const missing = await gantry(["run", ".gantry/x.ts"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      'no workflow file ".gantry/x.ts" (looked in ' +
        dir +
        "); name a workflow (ci (.gantry/ci.ts), ship-it (.gantry/release.ts)) or pass an existing file with -f FILE",
    );
  });

  it("list and validate cover every workflow; one invalid file makes validate exit 2 but the others are still checked", async () => {
    const mixed = repo({
      ".gantry/a.ts": wf("a"),
      ".gantry/b.ts": wf("b", 'x: job({ needs: ["y"], steps: [sh`true`] })'),
      ".gantry/c.ts": wf("c"),
    });
    const v = await gantry(["validate", "-C", mixed]);
    expect(v.code).toBe(2);
    expect(v.stdout).toContain("ok  .gantry/a.ts");
    expect(v.stdout).toContain("ok  .gantry/c.ts");
    expect(v.stderr).toContain('.gantry/b.ts: jobs.x.needs[0]: no job named "y"');
    const l = await gantry(["list"], { cwd: mixed });
    expect(l.code).toBe(2);
    expect(l.stdout).toContain("a  .gantry/a.ts");
    expect(l.stdout).toContain("c  .gantry/c.ts");
  });

  it("an executor kind that cannot run is not ok: Kubernetes is refused by validate and run (exit 2), an unreachable engine by validate", async () => {
    const k8s = `import { executors, job, sh, workflow } from "gantry";
export default workflow({ name: "pods", jobs: { a: job({ executor: executors.kubernetes({ image: "alpine" }), steps: [sh\`true\`] }) } });
`;
    const noEngine = `import { executors, job, sh, workflow } from "gantry";
export default workflow({ name: "box", jobs: { a: job({ executor: executors.container({ image: "busybox", engine: "/nonexistent/gantry.sock" }), steps: [sh\`true\`] }) } });
`;
    const dir = repo({ ".gantry/pods.ts": k8s, ".gantry/box.ts": noEngine, ".gantry/ok.ts": wf("ok") });
    const v = await gantry(["validate", "-C", dir]);
    expect(v.code).toBe(2);
    expect(v.stdout).toContain("ok  .gantry/ok.ts");
    expect(v.stdout).not.toContain("pods.ts");
    expect(v.stdout).not.toContain("box.ts");
    expect(v.stderr).toContain(
      '.gantry/pods.ts: jobs.a.executor.kind: executor kind "kubernetes" is not available in this Gantry; use one of executors.local(), executors.container(), executors.ssh()',
    );
    expect(v.stderr).toMatch(
      /invalid {2}\.gantry\/box\.ts\n {2}executor "container-[0-9a-f]{8}" \(container\) cannot run here: no container engine reachable: \/nonexistent\/gantry\.sock \(option\)/,
    );
    expect(v.stderr).not.toMatch(/\n\s+at /);
    const r = await gantry(["run", "-f", ".gantry/pods.ts"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('executor kind "kubernetes" is not available in this Gantry');
  });

  it("gantry run refuses at plan time an executor whose probe fails, with validate's message, before anything starts", async () => {
    const noEngine = `import { executors, job, sh, workflow } from "gantry";
export default workflow({ name: "box", jobs: {
  here: job({ steps: [sh\`touch started\`] }),
  a: job({ needs: ["here"], executor: executors.container({ image: "busybox", engine: "/nonexistent/gantry.sock" }), steps: [sh\`true\`] }),
} });
`;
    const dir = repo({ ".gantry/box.ts": noEngine });
    const r = await gantry(["run", "box", "--log-format", "plain"], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /\.gantry\/box\.ts: executor "container-[0-9a-f]{8}" \(container\) cannot run here: no container engine reachable: \/nonexistent\/gantry\.sock \(option\)/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Nothing started: no run recorded, no job ran.
    expect(r.stdout).not.toContain("here");
    expect(existsSync(join(dir, ".gantry", "state", "runs"))).toBe(false);
    // A job selection that leaves the container job out runs.
    const only = await gantry(["run", "box", "-j", "here", "--log-format", "plain"], { cwd: dir });
    expect(only.code, only.stderr).toBe(0);
  });

  it("no workflows at all is a usage error pointing at gantry init", async () => {
    const r = await gantry(["list"], { cwd: tempDir("none") });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("run `gantry init` or pass -f FILE");
  });
});

describe("graph formats", () => {
  it("ascii, dot and mermaid of the diamond", async () => {
    const ascii = await gantry(["graph", "-f", "examples/diamond.ts"]);
    expect(ascii.code).toBe(0);
    expect(ascii.stdout).toContain("level 1\n  a\n  ├─▶ b  (dist)\n  └─▶ c  (dist)\n");
    expect(ascii.stdout).toContain("level 3\n  d\n");
    const dot = await gantry(["graph", "-f", "examples/diamond.ts", "--format", "dot"]);
    expect(dot.stdout).toContain('"b" -> "d" [label="b-report"];');
    const mermaid = await gantry(["graph", "-f", "examples/diamond.ts", "--format", "mermaid"]);
    expect(mermaid.stdout.startsWith("flowchart TD\n")).toBe(true);
    const bad = await gantry(["graph", "-f", "examples/diamond.ts", "--format", "svg"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Allowed choices are ascii, mermaid, dot");
  });
});

describe("run --dry-run", () => {
  it("prints jobs in order with executor, condition, artifacts and steps, and runs nothing", async () => {
    const r = await gantry(["run", "--dry-run", "-f", "examples/diamond.ts"]);
    expect(r.code, r.stderr).toBe(0);
    const order = [...r.stdout.matchAll(/^(\d+)\. (\w+)$/gm)].map((m) => m[2]);
    expect(order).toEqual(["a", "b", "c", "d"]);
    expect(r.stdout).toContain("   output:   artifact dist <- dist\n");
    expect(r.stdout).toContain("   input:    artifact b-report -> reports/b.txt (from b)\n");
    expect(r.stdout).toContain("   executor: local\n");
    expect(r.stdout).toContain("        $ cat reports/b.txt reports/c.txt\n");
  });

  it("hides secret values and shows plain ones", async () => {
    const dir = repo({
      ".env.ci": "PLAIN_FROM_FILE=visible\n",
      ".gantry/ci.ts": `import { env, job, sh, workflow } from "gantry";
export default workflow({
  name: "ci",
  env: [env.static({ CI: "true" }), env.static({ API_KEY: "static-secret-value" }, { secret: true }), env.required("NPM_TOKEN")],
  jobs: {
    publish: job({
      env: { MODE: "fast" },
      steps: [
        sh.with({ name: "publish", retry: { attempts: 3, backoff: "exponential", delay: "1s", maxDelay: "10s" }, timeout: "2m" })\`line1
line2
line3
line4
line5\`,
      ],
    }),
  },
});
`,
    });
    const r = await gantry(["run", "-n", "--env-file", ".env.ci", "--secret", "NPM_TOKEN=hunter2", "--env", "EXTRA=1"], {
      cwd: dir,
      env: { NPM_TOKEN: undefined },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("  NPM_TOKEN=***\n");
    expect(r.stdout).toContain("  API_KEY=***\n");
    expect(r.stdout).toContain("  CI=true\n");
    expect(r.stdout).toContain("  PLAIN_FROM_FILE=visible\n");
    expect(r.stdout).toContain("  EXTRA=1\n");
    expect(r.stdout).toContain("   env:      MODE=fast\n");
    expect(r.stdout).not.toContain("hunter2");
    expect(r.stdout).not.toContain("static-secret-value");
    expect(r.stdout).toContain("        $ line3\n          ... 2 more lines\n");
    expect(r.stdout).not.toContain("line4");
    expect(r.stdout).toContain("        retry: 3 attempts, exponential delay from 1s up to 10s\n");
    expect(r.stdout).toContain("        timeout: 2m0s\n");
  });

  it("fails with exit 2 when a required variable is missing", async () => {
    const r = await gantry(["run", "--dry-run", "-f", "examples/invalid/required-env-missing.ts"], {
      env: { GANTRY_EXAMPLE_DEPLOY_TOKEN: undefined },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("GANTRY_EXAMPLE_DEPLOY_TOKEN");
    const ok = await gantry([
      "run",
      "--dry-run",
      "-f",
      "examples/invalid/required-env-missing.ts",
      "--secret",
      "GANTRY_EXAMPLE_DEPLOY_TOKEN=t0k",
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("GANTRY_EXAMPLE_DEPLOY_TOKEN=***");
  });

  it("-j selects a job with what it needs; --only without; an unknown job suggests a name", async () => {
    const withNeeds = await gantry(["run", "-n", "-f", "examples/diamond.ts", "-j", "c"]);
    expect([...withNeeds.stdout.matchAll(/^\d+\. (\w+)$/gm)].map((m) => m[1])).toEqual(["a", "c"]);
    expect(withNeeds.stdout).toContain("2 of 4 jobs would run");
    const only = await gantry(["run", "-n", "-f", "examples/matrix.ts", "-j", "test", "--only"]);
    expect(only.stdout).toContain("5 of 6 jobs would run");
    const unknown = await gantry(["run", "-n", "-f", "examples/diamond.ts", "-j", "dd"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no job "dd" (did you mean "d"?)');
  });
});

describe("usage", () => {
  it("--help of every command exits 0 and shows examples", async () => {
    for (const command of [[], ["init"], ["list"], ["validate"], ["graph"], ["build"], ["run"]]) {
      const r = await gantry([...command, "--help"]);
      expect(r.code, command.join(" ")).toBe(0);
      expect(r.stdout).toContain("Examples:");
    }
    const run = await gantry(["run", "--help"]);
    for (const flag of [
      "--job <id>",
      "--only",
      "--dry-run",
      "--concurrency <n>",
      "--fail-fast",
      "--no-fail-fast",
      "--log-format <format>",
      "--env-file <file>",
      "--secret-file <file>",
      "--env <name=value>",
      "--secret <name=value>",
      "--watch",
      "--file <file>",
      "--dir <dir>",
    ]) {
      expect(run.stdout).toContain(flag);
    }
  });

  it("usage mistakes exit 2 with commander's message and no stack", async () => {
    const cases: Array<[string[], string]> = [
      [["frobnicate"], "unknown command 'frobnicate'"],
      [["list", "--bogus"], "unknown option '--bogus'"],
      [["run", "-n", "--concurrency", "0", "-f", "examples/hello.ts"], "expected a whole number >= 1"],
      [["run", "-n", "--log-format", "xml", "-f", "examples/hello.ts"], "Allowed choices are pretty, plain, json"],
      [["run", "-n", "--env", "NOPE", "-f", "examples/hello.ts"], "expected NAME=VALUE"],
      [["run", "-n", "--only", "-f", "examples/hello.ts"], "--only needs at least one --job"],
    ];
    for (const [args, message] of cases) {
      const r = await gantry(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it("--version prints the package version", async () => {
    const r = await gantry(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("output has no colour codes when not on a TTY", async () => {
    const r = await gantry(["validate", "-f", "examples/hello.ts"], { env: { NO_COLOR: undefined, FORCE_COLOR: "1" } });
    expect(r.stdout).not.toContain("\u001b[");
  });
});
