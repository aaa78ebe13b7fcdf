/**
 * The log limit of a job: how much of its processes' output is kept. Past
 * the limit output is still read (the process is never blocked by it) and
 * counted, but not passed on; the job's log says where it was cut and, at
 * the end, how much was left out (as GitLab's and Buildkite's runners do).
 */
import { formatSize } from "../core/size.js";

/** Default bytes of output kept per job. */
export const DEFAULT_LOG_LIMIT = 100 * 1024 * 1024;

export class LogBudget {
  kept = 0;
  dropped = 0;
  /** The "truncated" line was logged. */
  noted = false;

  constructor(readonly limit: number) {}

  /** How many of the next `n` bytes may be kept (the rest is counted as dropped). */
  take(n: number): number {
    const keep = Math.min(n, Math.max(0, this.limit - this.kept));
    this.kept += keep;
    this.dropped += n - keep;
    return keep;
  }

  /** Logged once, where the output was cut. */
  cutMessage(): string {
    return `log truncated after ${formatSize(this.limit)} (the job's logLimit); further output is counted, not kept`;
  }

  /** Logged at the end of the job, when something was left out. */
  summary(): string {
    return `log truncated after ${formatSize(this.limit)}: ${formatSize(this.dropped)} more output was not kept`;
  }
}
