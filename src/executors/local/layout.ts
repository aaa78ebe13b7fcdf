/**
 * Where the local executor keeps things, inside the run's directory
 * (`run-root.ts`: `<base>/gantry-<uid>/<run>.XXXXXX`, mode 0700):
 *
 *   <run dir>/<executorName>/template     snapshot of the repository (copyRepo)
 *   <run dir>/<executorName>/jobs/<job>   one directory per job
 *
 * Every segment is made file-system safe (`../shared/names.ts`).
 */
import { join } from "node:path";
import { safeSegment } from "../shared/names.js";

export interface LocalLayout {
  /** The run's directory. */
  readonly runRoot: string;
  /** `<run dir>/<executorName>` */
  readonly workspace: string;
  readonly template: string;
  readonly jobs: string;
}

export function localLayout(runRoot: string, executorName: string): LocalLayout {
  const workspace = join(runRoot, safeSegment(executorName));
  return { runRoot, workspace, template: join(workspace, "template"), jobs: join(workspace, "jobs") };
}
