/**
 * Git fixtures for the server tests: a repository with workflows, and a
 * throw-away `git daemon` on a loopback port (started and stopped by pid by
 * the test; not a system daemon).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";

export function sh(cwd: string, ...args: string[]): string {
  const r = spawnSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@x", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@x" },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A repository at `dir` on branch `main` with `files`, committed. Returns the commit. */
export function makeRepo(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  sh(dir, "init", "-q", "-b", "main");
  return commitFiles(dir, files, "initial");
}

export function commitFiles(dir: string, files: Record<string, string>, message: string): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  sh(dir, "add", "-A");
  sh(dir, "commit", "-q", "--allow-empty", "-m", message);
  return sh(dir, "rev-parse", "HEAD");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface GitDaemon {
  readonly url: (repo: string) => string;
  stop(): Promise<void>;
}

/** `git daemon` serving the repositories below `base` on 127.0.0.1; resolves once it says it is ready. */
export async function startGitDaemon(base: string): Promise<GitDaemon> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    "git",
    ["daemon", "--reuseaddr", `--base-path=${base}`, "--export-all", "--listen=127.0.0.1", `--port=${port}`, "--verbose", base],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  await new Promise<void>((resolve, reject) => {
    let said = "";
    child.stderr?.on("data", (b: Buffer) => {
      said += b.toString();
      if (said.includes("Ready to rumble")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`git daemon exited (${code}): ${said}`)));
  });
  return {
    url: (repo) => `git://127.0.0.1:${port}/${repo}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      if (child.pid) process.kill(child.pid, "SIGTERM");
      await exited;
    },
  };
}

export const CI_WORKFLOW = `import { job, sh, workflow } from "gantry";
export default workflow({
  name: "ci",
  on: { manual: true },
  jobs: { build: job({ steps: [sh\`echo built\`] }), test: job({ needs: ["build"], steps: [sh\`echo tested\`] }) },
});
`;
