import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { plainCommand } from "../../src/executors/shared/plain-command.js";
import { findShell, spawnTree } from "../../src/executors/shared/process.js";

const dir = mkdtempSync(join(tmpdir(), "gantry-plain-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir };

async function run(script: string, env: Record<string, string> = baseEnv) {
  let stdout = "";
  let stderr = "";
  const result = await spawnTree({
    script,
    cwd: dir,
    env,
    signal: new AbortController().signal,
    onStdout: (c) => (stdout += c.toString()),
    onStderr: (c) => (stderr += c.toString()),
  });
  return { result, stdout, stderr };
}

describe("plainCommand", () => {
  it("takes one line of plain words as an argument vector", () => {
    expect(plainCommand("true")).toEqual(["true"]);
    expect(plainCommand("  npm   test\t")).toEqual(["npm", "test"]);
    expect(plainCommand("node --max-old-space-size=4096 ./bin/x.js a,b +1 user@host:path 50%")).toEqual([
      "node",
      "--max-old-space-size=4096",
      "./bin/x.js",
      "a,b",
      "+1",
      "user@host:path",
      "50%",
    ]);
  });

  it.each([
    ["", "empty"],
    ["echo $HOME", "parameter"],
    ["echo `id`", "command substitution"],
    ["echo 'a b'", "single quotes"],
    ['echo "a"', "double quotes"],
    ["echo a\\ b", "backslash"],
    ["ls *.ts", "glob *"],
    ["ls ?.ts", "glob ?"],
    ["ls [ab].ts", "glob ["],
    ["echo {a,b}", "brace expansion"],
    ["ls ~", "tilde"],
    ["echo a > f", "redirection >"],
    ["cat < f", "redirection <"],
    ["echo a | cat", "pipe"],
    ["true && false", "and"],
    ["true || false", "or"],
    ["echo a; echo b", "list"],
    ["sleep 1 &", "background"],
    ["(echo a)", "subshell"],
    ["echo a # comment", "comment"],
    ["! false", "negation"],
    ["echo a\necho b", "newline"],
    ["echo a\r", "carriage return"],
    ["FOO=bar env", "assignment"],
    ["cd /tmp", "builtin cd"],
    ["exit 3", "builtin exit"],
    ["export A", "builtin export"],
    ["pwd", "builtin pwd (logical path)"],
    ["kill 1", "builtin kill"],
    ["if", "keyword"],
    ["%1", "job reference"],
    ["echo ünïcode", "non-ASCII"],
  ])("leaves %j to the shell (%s)", (script) => {
    expect(plainCommand(script)).toBeUndefined();
  });
});

describe.skipIf(findShell().kind !== "bash")("spawnTree with plain commands", () => {
  // bash exports SHLVL and `_` to what it runs; a program started without a shell has neither.
  const viaShell = (stdout: string): boolean => /^(SHLVL|_)=/m.test(stdout);

  it("runs a plain command without a shell", async () => {
    const plain = await run("env");
    expect(plain.result.exitCode).toBe(0);
    expect(viaShell(plain.stdout)).toBe(false);
    expect(plain.stdout).toContain(`HOME=${dir}`);
  });

  it("runs everything else through the shell, with its meaning", async () => {
    expect(viaShell((await run("env | cat")).stdout)).toBe(true);
    expect((await run("echo $HOME")).stdout).toBe(`${dir}\n`);
    expect((await run("echo 'a  b'")).stdout).toBe("a  b\n");
    expect((await run("echo a\\ b")).stdout).toBe("a b\n");
    writeFileSync(join(dir, "one.txt"), "");
    expect((await run("echo *.txt")).stdout).toBe("one.txt\n");
    expect((await run("echo ~")).stdout).toBe(`${dir}\n`);
    expect((await run("echo a\necho b")).stdout).toBe("a\nb\n");
    expect((await run("FOO=bar env")).stdout).toContain("FOO=bar\n");
    expect((await run("cd / && pwd")).stdout).toBe("/\n");
    expect((await run("exit 3")).result.exitCode).toBe(3);
    expect((await run("echo x > out.txt && cat out.txt")).stdout).toBe("x\n");
  });

  it("keeps the shell when the environment exports bash functions that could shadow the program", async () => {
    const { stdout } = await run("env", { ...baseEnv, "BASH_FUNC_env%%": "() {  echo from-function\n}" });
    expect(stdout).toBe("from-function\n");
  });

  it("reports a missing program like a shell would (127)", async () => {
    const missing = await run("gantry-no-such-program-xyz --flag");
    expect(missing.result).toEqual({ exitCode: 127, signal: null, timedOut: false, cancelled: false });
    expect(missing.stderr).toContain("gantry-no-such-program-xyz: command not found");
  });

  it("reports a failing program's exit code", async () => {
    expect((await run("false")).result.exitCode).toBe(1);
    expect((await run("ls /nonexistent-gantry-dir")).result.exitCode).toBe(2);
  });
});
