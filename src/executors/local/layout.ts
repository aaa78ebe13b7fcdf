/**
 * Where the local executor keeps things:
 *
 *   <base>/gantry/<runId>/<executorName>/template     snapshot of the repository (copyRepo)
 *   <base>/gantry/<runId>/<executorName>/jobs/<job>   one directory per job
 *
 * `<base>` is `os.tmpdir()` unless the executor is given `baseDir`. Every
 * segment is made file-system safe (`../shared/names.ts`).
 */
import { join } from "node:path";
import { safeSegment } from "../shared/names.js";

export interface LocalLayout {
  /** `<base>/gantry/<runId>` */
  readonly runRoot: string;
  /** `<base>/gantry/<runId>/<executorName>` */
  readonly workspace: string;
  readonly template: string;
  readonly jobs: string;
}

export function localLayout(baseDir: string, runId: string, executorName: string): LocalLayout {
  const runRoot = join(baseDir, "gantry", safeSegment(runId));
  const workspace = join(runRoot, safeSegment(executorName));
  return { runRoot, workspace, template: join(workspace, "template"), jobs: join(workspace, "jobs") };
}
