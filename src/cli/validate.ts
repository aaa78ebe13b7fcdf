/**
 * `gantry validate`: load and compile every workflow, report every problem of
 * every file, exit 2 when any file is invalid. A file whose executors cannot
 * run on this machine (a kind's `probe` says why) is invalid too: "ok" means
 * `gantry run` can start it here.
 */
import { GantryError } from "../core/errors.js";
import { unavailableExecutors } from "./executors.js";
import type { CliIo } from "./io.js";
import { compileFile, repoDirOf, workflowFiles } from "./workflows.js";

export interface ValidateOptions {
  readonly dir?: string;
  /** Files given with `-f` (repeatable) or as arguments; none means `.gantry/*.ts`. */
  readonly files: readonly string[];
}

export async function validateCommand(options: ValidateOptions, io: CliIo): Promise<number> {
  const repoDir = repoDirOf(options);
  const files =
    options.files.length > 0
      ? (await Promise.all(options.files.map((f) => workflowFiles(repoDir, f)))).flat()
      : await workflowFiles(repoDir);
  let invalid = 0;
  for (const file of files) {
    try {
      const { plan } = await compileFile(repoDir, file);
      const unavailable = await unavailableExecutors(plan, undefined);
      if (unavailable.length > 0) {
        invalid++;
        io.err(`${io.errColor.red("invalid")}  ${file}`);
        for (const line of unavailable) io.err(`  ${line}`);
        continue;
      }
      const n = plan.jobs.length;
      io.out(
        `${io.color.green("ok")}  ${file} (workflow ${plan.workflow.name}: ${n} job${n === 1 ? "" : "s"}, plan ${plan.hash.slice(0, 12)})`,
      );
    } catch (error) {
      if (!(error instanceof GantryError)) throw error;
      invalid++;
      io.err(`${io.errColor.red("invalid")}  ${file}`);
      for (const line of error.message.split("\n")) io.err(`  ${line}`);
    }
  }
  if (invalid > 0) io.err(`${invalid} of ${files.length} workflow file${files.length === 1 ? " is" : "s are"} invalid`);
  return invalid > 0 ? 2 : 0;
}
