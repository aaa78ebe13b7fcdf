/**
 * The executor conformance suite: one set of vitest cases every executor
 * passes (local, container, ssh, and yours). Every check goes
 * through the `Executor` interface itself (a process that should be gone is
 * looked for with `kill -0` in a second `exec`), so the suite works for
 * executors whose processes run in a container or on another host.
 *
 *   describeExecutorConformance("local", async () => ({ executor: createLocalExecutor(def) }));
 *
 * What it pins down beyond the doc comment of `Executor`:
 * - a timeout is an abort whose `signal.reason` is named "TimeoutError"
 *   (`AbortSignal.timeout`, `new DOMException(msg, "TimeoutError")`): `timedOut`;
 *   any other abort reason: `cancelled`;
 * - processes left running in the background end with the `exec` that started them;
 * - `exec` with a signal that has already fired runs nothing;
 * - a process without `stdin` reads end-of-file;
 * - tar entry names are relative to the path itself (`.`/`./` is the path),
 *   so `writeFiles(q, readFiles(p))` copies `p` (a file or a directory) to `q`;
 * - jail violations reject with a `GantryError` coded `PATH_ESCAPE` or `ARTIFACT_INVALID`.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecRequest, Executor, JobInfo, WorkspaceInfo } from "../core/executor.js";
import { fileCases } from "./conformance-files.js";
import { makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo, type MakeInfoOptions } from "./conformance-fixtures.js";
import { JOB_IDS, type ConformanceKit, type JobId, type Run } from "./conformance-kit.js";
import { processCases } from "./conformance-processes.js";

export { buildTar, makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo, readTar } from "./conformance-fixtures.js";
export type { MakeInfoOptions, TarFixtureEntry, TarListingEntry } from "./conformance-fixtures.js";

const STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---------------------------------------------------------------- the suite

export interface ConformanceSubject {
  readonly executor: Executor;
  readonly teardown?: () => Promise<void>;
}

export interface ConformanceOptions {
  /** Environment of every exec (default: `PATH` of this process, else a standard PATH). */
  readonly env?: Readonly<Record<string, string>>;
  /** `repoDir` of the workspace and jobs (default: the current directory). */
  readonly repoDir?: string;
  /** Grace period between SIGTERM and SIGKILL in the abort cases (default 2000 ms). */
  readonly killGraceMs?: number;
  /** Skip the whole suite, saying why (e.g. "docker is not reachable"). */
  readonly skip?: string | false;
  /** Per-test time limit (default 60 s). */
  readonly testTimeoutMs?: number;
}

const GONE_CHECK = `
pid=$(cat bg.pid)
i=0
while [ "$i" -lt 50 ]; do
  if ! kill -0 "$pid" 2>/dev/null; then echo gone; exit 0; fi
  state=$(sed -n 's/^[0-9]* (.*) \\([A-Za-z]\\) .*/\\1/p' "/proc/$pid/stat" 2>/dev/null || true)
  if [ "$state" = Z ] || [ "$state" = X ]; then echo gone; exit 0; fi
  sleep 0.1
  i=$((i + 1))
done
echo "alive: $pid"
`;

export function describeExecutorConformance(
  name: string,
  factory: () => Promise<ConformanceSubject> | ConformanceSubject,
  options: ConformanceOptions = {},
): void {
  const title = `executor conformance: ${name}`;
  if (options.skip) {
    describe.skip(`${title} (skipped: ${options.skip})`, () => {
      it("is skipped", () => undefined);
    });
    return;
  }
  const env: Readonly<Record<string, string>> = options.env ?? { PATH: process.env.PATH ?? STANDARD_PATH };
  const grace = options.killGraceMs ?? 2_000;
  const timeout = options.testTimeoutMs ?? 60_000;
  const tag = randomUUID().slice(0, 8);
  const runId = `conformance-${tag}`;
  const info = { runId, ...(options.repoDir !== undefined ? { repoDir: options.repoDir } : {}) };

  describe(title, () => {
    let subject: ConformanceSubject | undefined;
    let ws: WorkspaceInfo | undefined;
    const executor = (): Executor => {
      if (!subject) throw new Error("the executor factory did not run");
      return subject.executor;
    };
    const jobInfo = (id: JobId, extra: MakeInfoOptions = {}): JobInfo =>
      makeJobInfo(makePlanJob(id, { executor: executor().name }), { ...info, ...extra });

    beforeAll(async () => {
      subject = await factory();
      ws = makeWorkspaceInfo(makePlanExecutor({ name: subject.executor.name }), [...JOB_IDS], info);
      await subject.executor.setupWorkspace(ws);
    }, timeout);

    afterAll(async () => {
      try {
        if (subject && ws) await subject.executor.cleanupWorkspace({ ...ws, signal: new AbortController().signal });
      } finally {
        await subject?.teardown?.();
      }
    }, timeout);

    /** Set up a job, run `fn`, always clean up. */
    const withJob = async (id: JobId, fn: (job: JobInfo) => Promise<void>): Promise<void> => {
      const job = jobInfo(id);
      try {
        await executor().setupJob(job);
        await fn(job);
      } finally {
        await executor().cleanupJob(job);
      }
    };

    const exec = async (
      job: JobInfo,
      req: Partial<ExecRequest> & ({ script: string } | { argv: readonly string[] }),
      onStdout?: (all: string) => void,
    ): Promise<Run> => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const result = await executor().exec(
        job,
        { env, signal: new AbortController().signal, killGraceMs: grace, ...req },
        {
          stdout: (chunk) => {
            out.push(chunk);
            onStdout?.(Buffer.concat(out).toString("utf8"));
          },
          stderr: (chunk) => err.push(chunk),
        },
      );
      return { result, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
    };

    const sh = async (job: JobInfo, script: string): Promise<string> => {
      const run = await exec(job, { script });
      expect(run.result, `script failed: ${script}\n${run.stderr}`).toMatchObject({ exitCode: 0 });
      return run.stdout;
    };

    /** Start a process tree that reports "ready" and waits; abort it with `reason`; return the result. */
    const startThenAbort = async (job: JobInfo, script: string, reason: unknown, killGraceMs = grace): Promise<Run> => {
      const controller = new AbortController();
      let ready!: () => void;
      const isReady = new Promise<void>((resolve) => (ready = resolve));
      const running = exec(job, { script, signal: controller.signal, killGraceMs }, (all) => {
        if (all.includes("ready")) ready();
      });
      await Promise.race([
        isReady,
        running.then((run) => {
          throw new Error(`the process ended before it was ready: ${JSON.stringify(run)}`);
        }),
      ]);
      controller.abort(reason);
      return running;
    };

    const expectGone = async (job: JobInfo): Promise<void> => {
      expect((await sh(job, GONE_CHECK)).trim()).toBe("gone");
    };

    const expectRejected = async (promise: Promise<unknown>): Promise<void> => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, "expected a rejection").toBeDefined();
      expect(["PATH_ESCAPE", "ARTIFACT_INVALID"]).toContain((error as { code?: unknown }).code);
    };

    const absent = async (job: JobInfo, path: string): Promise<void> => {
      expect((await sh(job, `if [ -e '${path}' ] || [ -L '${path}' ]; then echo present; else echo absent; fi`)).trim()).toBe("absent");
    };

    const kit: ConformanceKit = {
      executor,
      jobInfo,
      withJob,
      exec,
      sh,
      startThenAbort,
      expectGone,
      expectRejected,
      absent,
      env,
      timeout,
      tag,
    };

    processCases(kit);

    fileCases(kit);

    // ------------------------------------------------------------ life cycle

    it(
      "cleans up after a failed or missing setup, twice",
      async () => {
        const other = `conformance-${randomUUID().slice(0, 8)}`;
        const job = makeJobInfo(makePlanJob("never-set-up", { executor: executor().name }), { ...info, runId: other });
        await executor().cleanupJob(job);
        await executor().cleanupJob(job);
        const otherWs = makeWorkspaceInfo(makePlanExecutor({ name: executor().name }), ["never-set-up"], { ...info, runId: other });
        await executor().cleanupWorkspace(otherWs);
        await executor().cleanupWorkspace(otherWs);
        await withJob("fresh", async (j) => {
          await executor().cleanupJob(j);
        });
      },
      timeout,
    );

    it(
      "gives every setupJob a fresh directory",
      async () => {
        await withJob("fresh", async (job) => {
          await sh(job, "touch stale");
        });
        await withJob("fresh", async (job) => {
          await absent(job, "stale");
        });
      },
      timeout,
    );

    it(
      "runs two jobs at once in separate directories",
      async () => {
        const a = jobInfo("test (node=20, os=bookworm)");
        const b = jobInfo("test (node=22, os=bookworm)");
        try {
          await Promise.all([executor().setupJob(a), executor().setupJob(b)]);
          const script = 'echo "$WHO" > who\nsleep 0.3\ncat who';
          const [ra, rb] = await Promise.all([
            exec(a, { script, env: { ...env, WHO: "a" } }),
            exec(b, { script, env: { ...env, WHO: "b" } }),
          ]);
          expect(ra.stdout).toBe("a\n");
          expect(rb.stdout).toBe("b\n");
          const [pa, pb] = await Promise.all([sh(a, "pwd"), sh(b, "pwd")]);
          expect(pa).not.toBe(pb);
        } finally {
          await Promise.all([executor().cleanupJob(a), executor().cleanupJob(b)]);
        }
      },
      timeout,
    );
  });
}
