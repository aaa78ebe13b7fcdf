/**
 * Running `git` for the server's mirrors: argument arrays (never a shell),
 * no terminal prompts, and a failure that names the repository and says what
 * git said.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import tarStream from "tar-stream";
import { GantryError } from "../../core/errors.js";

const GIT_ENV = { GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "true", LC_ALL: "C" };

export async function git(args: readonly string[], options: { cwd?: string; what: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...GIT_ENV },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => reject(new GantryError("USAGE", `${options.what}: cannot run git (${e.message}); install git`, { cause: e })));
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else {
        const said = Buffer.concat(err).toString("utf8").trim().split("\n").slice(-3).join(" ");
        reject(
          new GantryError("EXECUTOR_FAILED", `${options.what}: git ${args[0] ?? ""} failed: ${said || `exit ${code}`}`, {
            retryable: true,
          }),
        );
      }
    });
  });
}

/**
 * `git archive --format=tar <tree>` into `file`, normalised so the same tree
 * always gives the same bytes: every mtime is 0 (git stamps a tree's entries
 * with the current time) (tar-stream drops the pax global header).
 */
export async function gitArchive(gitDir: string, treeish: string, file: string, what: string): Promise<void> {
  const child = spawn("git", ["--git-dir", gitDir, "archive", "--format=tar", treeish], {
    env: { ...process.env, ...GIT_ENV },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const err: Buffer[] = [];
  child.stderr.on("data", (b: Buffer) => err.push(b));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  const repack = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const size = h.type === "file" ? h.size : 0;
      await new Promise<void>((resolve, reject) => {
        const out = pack.entry({ name: h.name, type: h.type, mode: h.mode, size, linkname: h.linkname, mtime: new Date(0) }, (e) =>
          e ? reject(e) : resolve(),
        );
        entry.pipe(out);
      });
    }
    pack.finalize();
  })();
  await Promise.all([pipeline(child.stdout, extract), pipeline(pack, createWriteStream(file)), repack]);
  const code = await exited;
  if (code !== 0) throw new GantryError("EXECUTOR_FAILED", `${what}: git archive failed: ${Buffer.concat(err).toString("utf8").trim()}`);
}
