/**
 * `gantry init`: write a small working workflow to `.gantry/ci.ts` and keep
 * `.gantry/state/` out of git.
 */
import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { GantryError } from "../core/errors.js";
import { toPosix } from "../loader/bundle.js";
import type { CliIo } from "./io.js";

export const INIT_WORKFLOW = `// A Gantry workflow: jobs run on a local executor, one artifact flows from build to test.
// Run it with \`gantry run\`; see the plan with \`gantry graph\` or \`gantry run --dry-run\`.
import { always, executors, job, sh, workflow } from "gantry";

export default workflow({
  name: "ci",
  on: { push: { branches: ["main"] }, manual: true },
  defaults: { executor: executors.local(), timeout: "10m" },
  jobs: {
    build: job({
      steps: [sh\`mkdir -p out\`, sh\`echo "built by gantry" > out/build.txt\`],
      outputs: { artifacts: { build: "out" } },
    }),
    test: job({
      needs: ["build"],
      inputs: { artifacts: { build: "out" } },
      steps: [sh\`cat out/build.txt\`, sh.with({ name: "check", retry: { attempts: 2 } })\`test -s out/build.txt\`],
    }),
    report: job({
      needs: ["test"],
      if: always(),
      steps: [sh\`echo "ci finished"\`],
    }),
  },
});
`;

export const GITIGNORE_ENTRY = ".gantry/state/";

/** Create `.gantry/ci.ts` (never overwriting it) and add `.gantry/state/` to `.gitignore` once. */
export async function initCommand(repoDir: string, io: CliIo): Promise<number> {
  const target = join(repoDir, ".gantry", "ci.ts");
  const shown = toPosix(relative(process.cwd(), target)) || target;
  if (existsSync(target)) {
    throw new GantryError("USAGE", `${shown} already exists; gantry init does not overwrite it (edit it, or remove it first)`);
  }
  await mkdir(join(repoDir, ".gantry"), { recursive: true });
  await writeFile(target, INIT_WORKFLOW, { encoding: "utf8", flag: "wx" });
  io.out(`created ${shown}`);

  const gitignore = join(repoDir, ".gitignore");
  const current = await readFile(gitignore, "utf8").catch(() => undefined);
  const lines = (current ?? "").split(/\r?\n/).map((l) => l.trim());
  if (lines.includes(GITIGNORE_ENTRY) || lines.includes(GITIGNORE_ENTRY.slice(0, -1)) || lines.includes(`/${GITIGNORE_ENTRY}`)) {
    io.out(`.gitignore already ignores ${GITIGNORE_ENTRY}`);
  } else {
    const prefix = current === undefined || current === "" || current.endsWith("\n") ? "" : "\n";
    await appendFile(gitignore, `${prefix}${GITIGNORE_ENTRY}\n`, "utf8");
    io.out(`${current === undefined ? "created" : "updated"} .gitignore (ignores ${GITIGNORE_ENTRY})`);
  }
  io.out("next: gantry graph, gantry run --dry-run, gantry run");
  return 0;
}
