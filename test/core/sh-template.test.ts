/**
 * `sh` templates run what the user typed (the raw strings, as in a shell
 * script) with interpolated values quoted; commands that are not strings or
 * templates, and empty scripts, are plan errors naming the step.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sh, shellQuote, step } from "gantry";
import { shellCommand } from "../../src/executors/shared/process.js";
import { gantry, tempDir } from "../cli/helpers.js";
import { compile, issuesOf } from "./helpers.js";

const wf = (steps: unknown[]) => ({ kind: "workflow", name: "ci", jobs: { build: { kind: "job", steps } } });

/** Run a script as the local executor does (same shell, same flags) and return its stdout. */
function runScript(script: string): string {
  const { file, args } = shellCommand(script);
  return execFileSync(file, args, { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
}

describe("sh templates use the raw strings", () => {
  it("keeps invalid escapes, backslashes and \\n as typed (the cooked string was empty or lost them)", () => {
    expect(sh`printf '\033[1mbold\033[0m\n'; echo SHOULD-PRINT; exit 7`.run).toBe(
      String.raw`printf '\033[1mbold\033[0m\n'; echo SHOULD-PRINT; exit 7`,
    );
    expect(sh`echo C:\users\x; exit 3`.run).toBe("echo C:\\users\\x; exit 3");
    expect(sh`grep -o 'a\.b'`.run).toBe("grep -o 'a\\.b'");
    expect(sh.with({ name: "n" })`printf '%s\n' a\tb`.run).toBe("printf '%s\\n' a\\tb");
  });

  it("quotes interpolated values and keeps the raw text around them", () => {
    const file = "it's a $file";
    expect(sh`cat \x ${file} | grep 'a\.b'`.run).toBe(`cat \\x 'it'\\''s a $file' | grep 'a\\.b'`);
    expect(runScript(sh`printf '%s\n' ${file}`.run)).toBe(`${file}\n`);
  });

  it("`\\${` and `\\`` (escapes JavaScript forces) reach the shell as `${` and a backtick", () => {
    expect(sh`echo \${HOME:-/} \`id -u\` \\\${x}`.run).toBe("echo ${HOME:-/} `id -u` \\\\${x}");
    expect(runScript(sh`X=1; printf %s "\${X:-unset}-\${Y:-dflt}"`.run)).toBe("1-dflt");
  });

  it("the script that runs is the raw text with interpolations quoted (property, real template literals, real shell)", () => {
    // Shell text goes inside single quotes in the template, so the shell prints it verbatim.
    // `'` would end the quoting, NUL cannot be in a shell argument, CR is read as LF in template source,
    // and a backslash right before a backtick or `${` cannot be written in a template at all.
    const textChar = fc.constantFrom("a", " ", "\\", '"', "$", "\n", "\t", "\x01", "\x1b", "\x7f", "é", "{", "}", "`", "*", "#", "u", "x");
    const text = fc
      .array(textChar, { maxLength: 12 })
      .map((c) => c.join(""))
      .filter((t) => !/\\(`|\$\{)/.test(t));
    const valueChar = fc.oneof(textChar, fc.constantFrom("'", "\r", "\x1f"), fc.string({ maxLength: 1, unit: "grapheme" }));
    const value = fc.array(valueChar, { maxLength: 12 }).map((c) => c.join("").replace(/\0/g, ""));
    const typed = (t: string): string => t.replace(/`/g, "\\`").replace(/\$\{/g, "\\${");
    fc.assert(
      fc.property(fc.array(fc.tuple(text, value), { minLength: 1, maxLength: 3 }), text, (parts, last) => {
        let source = "return sh`printf %s '";
        let expectedScript = "printf %s '";
        let expectedOutput = "";
        parts.forEach(([t, v], i) => {
          source += `${typed(t)}'\${v[${i}]}'`;
          expectedScript += `${t}'${shellQuote(v)}'`;
          expectedOutput += t + v;
        });
        source += `${typed(last)}'\`;`;
        expectedScript += `${last}'`;
        expectedOutput += last;
        // a real template literal, so `raw` is what JavaScript makes of the typed text
        // eslint-disable-next-line @typescript-eslint/no-implied-eval
        const script = (new Function("sh", "v", source) as (s: typeof sh, v: string[]) => { run: string })(
          sh,
          parts.map(([, v]) => v),
        ).run;
        expect(script).toBe(expectedScript);
        expect(runScript(script)).toBe(expectedOutput);
      }),
      { numRuns: 200 },
    );
  });
});

describe("commands that are not strings or templates", () => {
  it.each([
    ["a number", 123, "got 123"],
    ["an object", { cmd: "x" }, "got an object"],
    ["an array", ["echo", "array"], "got an array"],
    ["undefined", undefined, "got undefined"],
    ["null", null, "got null"],
  ])("sh(%s) is a plan error naming the step", (_what, command, got) => {
    const made = (sh as unknown as (c: unknown) => unknown)(command);
    const issues = issuesOf(wf([sh`true`, made]));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^jobs\.build\.steps\[1\]\.run: a sh step's command must be a string or a tagged template/);
    expect(issues[0]).toContain(got);
  });

  it("an empty or blank script is a plan error, also through step() and sh.with()", () => {
    expect(issuesOf(wf([sh``, sh("  \n\t"), step({ name: "x" }, sh("")), sh.with({ name: "w" })`   `]))).toEqual([
      "jobs.build.steps[0].run: the script is empty: a sh step must run something",
      "jobs.build.steps[1].run: the script is empty: a sh step must run something",
      "jobs.build.steps[2].run: the script is empty: a sh step must run something",
      "jobs.build.steps[3].run: the script is empty: a sh step must run something",
    ]);
    expect(compile(wf([sh`:`])).jobs[0]?.steps[0]?.run).toBe(":");
  });
});

describe("the CLI", () => {
  function repo(text: string): string {
    const dir = tempDir("sh");
    mkdirSync(join(dir, ".gantry"));
    writeFileSync(join(dir, ".gantry", "ci.ts"), text);
    return dir;
  }

  it("runs the raw script: the step prints and fails with its exit code", async () => {
    const dir = repo(
      'import { job, sh, workflow } from "gantry";\n' +
        "export default workflow({ name: \"ci\", jobs: { a: job({ steps: [sh`printf '\\033[1mbold\\033[0m\\n'; echo SHOULD-PRINT; grep -c 'a\\.b' <<< 'axb' || echo NO-MATCH; exit 7`] }) } });\n",
    );
    const r = await gantry(["run", "--log-format", "plain"], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain("SHOULD-PRINT");
    expect(r.stdout).toContain("NO-MATCH");
    expect(r.stdout).toMatch(/exit code 7|exited with 7|code 7/);
  });

  it("sh(123) and sh(undefined) are plan errors: exit 2, the step named, no stack", async () => {
    const dir = repo(
      'import { job, sh, workflow } from "gantry";\n' +
        "// @ts-expect-error wrong on purpose\nconst a = sh(123);\n// @ts-expect-error wrong on purpose\nconst b = sh(undefined);\n" +
        'export default workflow({ name: "ci", jobs: { a: job({ steps: [a, b] }) } });\n',
    );
    const r = await gantry(["run", "--dry-run"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("jobs.a.steps[0].run: a sh step's command must be a string or a tagged template (sh`...`), got 123");
    expect(r.stderr).toContain("jobs.a.steps[1].run: a sh step's command must be a string or a tagged template (sh`...`), got undefined");
    expect(r.stderr).not.toMatch(/TypeError|\n\s+at /);
  });
});
