/**
 * What the executor conformance cases share: the executor under test and
 * helpers over its interface. Built once per suite by `describeExecutorConformance`.
 */
import type { ExecRequest, ExecResult, Executor, JobInfo } from "../core/executor.js";
import type { MakeInfoOptions } from "./conformance-fixtures.js";

export const JOB_IDS = [
  "exit-codes",
  "streams",
  "env",
  "cwd",
  "stdin",
  "abort",
  "timeout",
  "grace",
  "background",
  "pre-aborted",
  "tar-tree",
  "tar-file",
  "jail-dotdot",
  "jail-dir-over-symlink",
  "jail-symlink-chain",
  "jail-absolute",
  "jail-symlink",
  "jail-through",
  "jail-hardlink",
  "jail-read",
  "fresh",
  "test (node=20, os=bookworm)",
  "test (node=22, os=bookworm)",
] as const;
export type JobId = (typeof JOB_IDS)[number];

export interface Run {
  readonly result: ExecResult;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ConformanceKit {
  readonly executor: () => Executor;
  readonly jobInfo: (id: JobId, extra?: MakeInfoOptions) => JobInfo;
  /** Set up a job, run `fn`, always clean up. */
  readonly withJob: (id: JobId, fn: (job: JobInfo) => Promise<void>) => Promise<void>;
  readonly exec: (
    job: JobInfo,
    req: Partial<ExecRequest> & ({ script: string } | { argv: readonly string[] }),
    onStdout?: (all: string) => void,
  ) => Promise<Run>;
  /** Run a script that must succeed; its stdout. */
  readonly sh: (job: JobInfo, script: string) => Promise<string>;
  /** Start a process tree that reports "ready" and waits; abort it with `reason`; return the result. */
  readonly startThenAbort: (job: JobInfo, script: string, reason: unknown, killGraceMs?: number) => Promise<Run>;
  /** The process whose pid is in `bg.pid` is gone. */
  readonly expectGone: (job: JobInfo) => Promise<void>;
  /** A jail violation: rejected with PATH_ESCAPE or ARTIFACT_INVALID. */
  readonly expectRejected: (promise: Promise<unknown>) => Promise<void>;
  /** Nothing (not even a dangling symlink) at `path` in the job directory. */
  readonly absent: (job: JobInfo, path: string) => Promise<void>;
  /** Environment of every exec. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeout: number;
  /** A random tag of this suite run, for unique names. */
  readonly tag: string;
}
