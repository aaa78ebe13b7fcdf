/**
 * Where a job attempt runs: the executor's optional `jobLocation`, asked
 * once per attempt right after `setupJob`, becomes a `job.location` event
 * and a system line in the job's log ("running on ci@10.0.0.5:22").
 */
import { coerceError } from "../core/errors.js";
import type { Executor, JobInfo } from "../core/executor.js";
import { lineSink, logMessage } from "./output.js";
import type { RunContext } from "./run-context.js";

export function reportLocation(run: RunContext, executor: Executor, info: JobInfo): void {
  let location: string | undefined;
  try {
    location = executor.jobLocation?.(info);
  } catch (error) {
    logMessage(run, lineSink(run, info.job.id), "system", `could not tell where the job runs: ${coerceError(error).message}`);
    return;
  }
  if (location === undefined || location === "") return;
  run.emit("job.location", { jobId: info.job.id, attempt: info.attempt, location });
  logMessage(run, lineSink(run, info.job.id), "system", `running on ${location}`);
}

/** `executor.setupJob(info)`, then where it runs (also when the setup failed). */
export async function setupJobAt(run: RunContext, executor: Executor, info: JobInfo): Promise<void> {
  try {
    await executor.setupJob(info);
  } finally {
    reportLocation(run, executor, info);
  }
}
