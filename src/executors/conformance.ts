/**
 * The executor conformance suite: one set of vitest cases every executor
 * passes (local, container, ssh, kubernetes, and yours). Every check goes
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
import { realpath } from "node:fs/promises";
import { Readable } from "node:stream";
import tarStream from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecRequest, ExecResult, Executor, JobInfo, WorkspaceInfo } from "../core/executor.js";
import type { PlanExecutor, PlanJob, PlanRetry } from "../core/plan-types.js";

const ZERO_HASH = "0".repeat(64);
const STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---------------------------------------------------------------- fixtures

export function makePlanExecutor(overrides: Partial<PlanExecutor> = {}): PlanExecutor {
  return { name: "conformance", kind: "local", options: {}, hash: ZERO_HASH, ...overrides };
}

const NO_RETRY: PlanRetry = { attempts: 1, backoff: "constant", delayMs: 0, maxDelayMs: 0, jitter: 0 };

/** A minimal valid plan job with the given id (the key is the id up to the first space, as for matrix ids). */
export function makePlanJob(id: string, overrides: Partial<PlanJob> = {}): PlanJob {
  return {
    id,
    key: id.split(" ")[0] ?? id,
    name: id,
    matrix: {},
    needs: [],
    if: { kind: "status", status: "success" },
    executor: "conformance",
    steps: [],
    env: {},
    retry: NO_RETRY,
    continueOnError: false,
    inputs: { artifacts: [] },
    outputs: { artifacts: [] },
    cache: false,
    caches: [],
    labels: [],
    hash: ZERO_HASH,
    ...overrides,
  };
}

export interface MakeInfoOptions {
  readonly runId?: string;
  readonly repoDir?: string;
  readonly runDir?: string;
  readonly signal?: AbortSignal;
}

/** A `JobInfo` for calling an executor by hand; `job` is a job id or a full `PlanJob`. */
export function makeJobInfo(job: string | PlanJob, options: MakeInfoOptions & { readonly attempt?: number } = {}): JobInfo {
  return {
    runId: options.runId ?? "run-test",
    repoDir: options.repoDir ?? process.cwd(),
    runDir: options.runDir ?? process.cwd(),
    job: typeof job === "string" ? makePlanJob(job) : job,
    attempt: options.attempt ?? 1,
    signal: options.signal ?? new AbortController().signal,
  };
}

/** A `WorkspaceInfo` for calling an executor by hand. */
export function makeWorkspaceInfo(
  executor: PlanExecutor,
  jobs: ReadonlyArray<string | PlanJob>,
  options: MakeInfoOptions = {},
): WorkspaceInfo {
  return {
    runId: options.runId ?? "run-test",
    repoDir: options.repoDir ?? process.cwd(),
    runDir: options.runDir ?? process.cwd(),
    executor,
    jobs: jobs.map((j) => (typeof j === "string" ? makePlanJob(j, { executor: executor.name }) : j)),
    signal: options.signal ?? new AbortController().signal,
  };
}

// ---------------------------------------------------------------- tar helpers

export interface TarFixtureEntry {
  readonly name: string;
  readonly type?: "file" | "directory" | "symlink" | "link";
  readonly mode?: number;
  readonly content?: string;
  readonly linkname?: string;
}

/** A tar stream holding exactly the given entries (names are not checked: jail tests need bad ones). */
export function buildTar(entries: readonly TarFixtureEntry[]): Readable {
  const pack = tarStream.pack();
  for (const e of entries) {
    const type = e.type ?? "file";
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    };
    if (type === "file") pack.entry(header, e.content ?? "");
    else pack.entry(header);
  }
  pack.finalize();
  return Readable.from(pack, { objectMode: false });
}

export interface TarListingEntry {
  readonly type: string;
  readonly mode: number;
  readonly content?: string;
  readonly linkname?: string;
}

/** Read a tar stream into a map from normalised name (`.` for the root, no `./`, no trailing `/`) to entry. */
export async function readTar(stream: Readable): Promise<Map<string, TarListingEntry>> {
  const extract = tarStream.extract();
  stream.pipe(extract);
  stream.on("error", (error) => extract.destroy(error));
  const out = new Map<string, TarListingEntry>();
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
    const h = entry.header;
    const name = h.name.replace(/^(\.\/)+/, "").replace(/\/+$/, "") || ".";
    out.set(name, {
      type: h.type,
      mode: h.mode & 0o777,
      ...(h.type === "file" ? { content: Buffer.concat(chunks).toString("utf8") } : {}),
      ...(h.type === "symlink" || h.type === "link" ? { linkname: h.linkname } : {}),
    });
  }
  return out;
}

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

interface Run {
  readonly result: ExecResult;
  readonly stdout: string;
  readonly stderr: string;
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

const JOB_IDS = [
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
  "jail-absolute",
  "jail-symlink",
  "jail-through",
  "jail-hardlink",
  "jail-read",
  "fresh",
  "test (node=20, os=bookworm)",
  "test (node=22, os=bookworm)",
] as const;
type JobId = (typeof JOB_IDS)[number];

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

    // ------------------------------------------------------------ processes

    it(
      "reports exit codes as results: 0, 3, and death by a signal",
      async () => {
        await withJob("exit-codes", async (job) => {
          const ok = await exec(job, { script: "echo hello" });
          expect(ok).toMatchObject({ stdout: "hello\n", result: { exitCode: 0, signal: null, timedOut: false, cancelled: false } });
          const three = await exec(job, { script: "exit 3" });
          expect(three.result).toMatchObject({ exitCode: 3, timedOut: false, cancelled: false });
          const killed = await exec(job, { script: "kill -KILL $$" });
          expect(killed.result.signal === "SIGKILL" || killed.result.exitCode === 137, JSON.stringify(killed.result)).toBe(true);
          expect(killed.result).toMatchObject({ timedOut: false, cancelled: false });
        });
      },
      timeout,
    );

    it(
      "runs scripts with -e and pipefail, and argv without a shell",
      async () => {
        await withJob("exit-codes", async (job) => {
          const failed = await exec(job, { script: "false | true\necho after" });
          expect(failed.result.exitCode).not.toBe(0);
          expect(failed.stdout).not.toContain("after");
          const argv = await exec(job, { argv: ["printf", "%s|%s", "a b", "$HOME"] });
          expect(argv).toMatchObject({ stdout: "a b|$HOME", result: { exitCode: 0 } });
        });
      },
      timeout,
    );

    it(
      "keeps stdout and stderr apart",
      async () => {
        await withJob("streams", async (job) => {
          const run = await exec(job, { script: "echo out1\necho err1 >&2\necho out2\necho err2 >&2" });
          expect(run.stdout).toBe("out1\nout2\n");
          expect(run.stderr).toBe("err1\nerr2\n");
        });
      },
      timeout,
    );

    it(
      "passes exactly the given environment",
      async () => {
        await withJob("env", async (job) => {
          const previous = process.env.GANTRY_CONFORMANCE_LEAK;
          process.env.GANTRY_CONFORMANCE_LEAK = "leaked";
          try {
            const run = await exec(job, {
              script: `printf '%s\\n' "$GANTRY_CONFORMANCE_VAR" "\${GANTRY_CONFORMANCE_LEAK-unset}"`,
              env: { ...env, GANTRY_CONFORMANCE_VAR: "a b 'c' $d" },
            });
            expect(run.stdout).toBe("a b 'c' $d\nunset\n");
          } finally {
            if (previous === undefined) delete process.env.GANTRY_CONFORMANCE_LEAK;
            else process.env.GANTRY_CONFORMANCE_LEAK = previous;
          }
        });
      },
      timeout,
    );

    it(
      "runs in the job directory, honours cwd and refuses a cwd outside it",
      async () => {
        await withJob("cwd", async (job) => {
          await sh(job, "mkdir -p sub/dir && pwd > top.txt");
          const inner = await exec(job, { script: "pwd; echo here > marker", cwd: "sub/dir" });
          expect(inner.result.exitCode).toBe(0);
          expect(inner.stdout.trim()).toMatch(/\/sub\/dir$/);
          expect(await sh(job, "cat sub/dir/marker")).toBe("here\n");
          const top = (await sh(job, "cat top.txt")).trim();
          expect(inner.stdout.trim()).toBe(`${top}/sub/dir`);
          const local = executor().localJobDir?.(job);
          if (local !== undefined) {
            expect(top).toBe(await realpath(local));
          }
          const outside = await executor()
            .exec(
              job,
              { script: "true", env, signal: new AbortController().signal, cwd: "../" },
              { stdout: () => undefined, stderr: () => undefined },
            )
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          expect(outside).toMatchObject({ code: "PATH_ESCAPE" });
        });
      },
      timeout,
    );

    it(
      "feeds stdin, and gives end-of-file when there is none",
      async () => {
        await withJob("stdin", async (job) => {
          expect(await exec(job, { script: "cat", stdin: "line 1\nline 2\n" })).toMatchObject({
            stdout: "line 1\nline 2\n",
            result: { exitCode: 0 },
          });
          expect(await exec(job, { script: "cat", stdin: new Uint8Array([104, 105]) })).toMatchObject({ stdout: "hi" });
          expect(await exec(job, { script: "cat; echo done" })).toMatchObject({ stdout: "done\n", result: { exitCode: 0 } });
        });
      },
      timeout,
    );

    it(
      "on abort kills the whole process tree and reports cancelled",
      async () => {
        await withJob("abort", async (job) => {
          const run = await startThenAbort(job, "sleep 1000 & echo $! > bg.pid\necho ready\nwait", undefined);
          expect(run.result).toMatchObject({ cancelled: true, timedOut: false });
          expect(run.result.exitCode).not.toBe(0);
          await expectGone(job);
        });
      },
      timeout,
    );

    it(
      "on an abort with a TimeoutError reason kills the tree and reports timedOut",
      async () => {
        await withJob("timeout", async (job) => {
          const run = await startThenAbort(
            job,
            "sleep 1000 & echo $! > bg.pid\necho ready\nwait",
            new DOMException("step timed out", "TimeoutError"),
          );
          expect(run.result).toMatchObject({ cancelled: false, timedOut: true });
          expect(run.result.exitCode).not.toBe(0);
          await expectGone(job);
        });
      },
      timeout,
    );

    it(
      "kills processes that ignore SIGTERM after the grace period",
      async () => {
        await withJob("grace", async (job) => {
          const script = "trap '' TERM\nsleep 1000 & echo $! > bg.pid\necho ready\nwhile :; do sleep 0.1; done";
          const run = await startThenAbort(job, script, undefined, 300);
          expect(run.result).toMatchObject({ cancelled: true });
          await expectGone(job);
        });
      },
      timeout,
    );

    it(
      "ends background processes with the process that started them",
      async () => {
        await withJob("background", async (job) => {
          const run = await exec(job, { script: "sleep 1000 > /dev/null 2>&1 & echo $! > bg.pid\nsleep 1000 &\necho started" });
          expect(run).toMatchObject({ stdout: "started\n", result: { exitCode: 0, cancelled: false, timedOut: false } });
          await expectGone(job);
        });
      },
      timeout,
    );

    it(
      "runs nothing when the signal has already fired",
      async () => {
        await withJob("pre-aborted", async (job) => {
          const controller = new AbortController();
          controller.abort();
          const run = await exec(job, { script: "touch ran", signal: controller.signal });
          expect(run.result).toMatchObject({ cancelled: true, timedOut: false });
          await absent(job, "ran");
        });
      },
      timeout,
    );

    // ------------------------------------------------------------ files

    it(
      "round-trips a tree through writeFiles and readFiles",
      async () => {
        await withJob("tar-tree", async (job) => {
          await executor().writeFiles(
            job,
            "restore",
            buildTar([
              { name: "./", type: "directory", mode: 0o755 },
              { name: "bin/", type: "directory", mode: 0o755 },
              { name: "bin/run.sh", mode: 0o755, content: "#!/bin/sh\necho run\n" },
              { name: "data/nested/deep.txt", mode: 0o640, content: "deep\n" },
              { name: "empty/", type: "directory", mode: 0o700 },
              { name: "link", type: "symlink", linkname: "data/nested/deep.txt" },
              { name: "readonly.txt", mode: 0o444, content: "ro" },
            ]),
          );
          expect(await sh(job, "cat restore/link; ./restore/bin/run.sh; test -d restore/empty && echo empty-dir")).toBe(
            "deep\nrun\nempty-dir\n",
          );
          const listing = await readTar(await executor().readFiles(job, "restore"));
          expect(listing.get(".")).toMatchObject({ type: "directory" });
          expect(listing.get("bin/run.sh")).toEqual({ type: "file", mode: 0o755, content: "#!/bin/sh\necho run\n" });
          expect(listing.get("data/nested/deep.txt")).toEqual({ type: "file", mode: 0o640, content: "deep\n" });
          expect(listing.get("data/nested")).toMatchObject({ type: "directory" });
          expect(listing.get("empty")).toEqual({ type: "directory", mode: 0o700 });
          expect(listing.get("link")).toMatchObject({ type: "symlink", linkname: "data/nested/deep.txt" });
          expect(listing.get("readonly.txt")).toEqual({ type: "file", mode: 0o444, content: "ro" });
          expect([...listing.keys()].sort()).toEqual([
            ".",
            "bin",
            "bin/run.sh",
            "data",
            "data/nested",
            "data/nested/deep.txt",
            "empty",
            "link",
            "readonly.txt",
          ]);
          // What readFiles produced restores elsewhere unchanged.
          await executor().writeFiles(job, "again/copy", await executor().readFiles(job, "restore"));
          const again = await readTar(await executor().readFiles(job, "again/copy"));
          expect(again).toEqual(listing);
        });
      },
      timeout,
    );

    it(
      "round-trips a single file",
      async () => {
        await withJob("tar-file", async (job) => {
          await sh(job, "printf one > one.txt && chmod 640 one.txt");
          const listing = await readTar(await executor().readFiles(job, "one.txt"));
          expect([...listing.entries()]).toEqual([[".", { type: "file", mode: 0o640, content: "one" }]]);
          await executor().writeFiles(job, "nested/copy.txt", await executor().readFiles(job, "one.txt"));
          expect(await sh(job, "cat nested/copy.txt")).toBe("one");
          const copy = await readTar(await executor().readFiles(job, "nested/copy.txt"));
          expect(copy.get(".")).toEqual({ type: "file", mode: 0o640, content: "one" });
        });
      },
      timeout,
    );

    it(
      "refuses tar entries with .. and writes nothing outside",
      async () => {
        await withJob("jail-dotdot", async (job) => {
          await expectRejected(
            executor().writeFiles(
              job,
              "restore",
              buildTar([
                { name: "ok.txt", content: "ok" },
                { name: `../../escape-${tag}`, content: "x" },
              ]),
            ),
          );
          await expectRejected(executor().writeFiles(job, ".", buildTar([{ name: `a/../../escape-${tag}`, content: "x" }])));
          await absent(job, `../escape-${tag}`);
          await absent(job, `../../escape-${tag}`);
          await absent(job, `escape-${tag}`);
        });
      },
      timeout,
    );

    it(
      "refuses tar entries with absolute names",
      async () => {
        await withJob("jail-absolute", async (job) => {
          const target = `/tmp/gantry-conformance-abs-${tag}`;
          await expectRejected(executor().writeFiles(job, "restore", buildTar([{ name: target, content: "x" }])));
          await absent(job, target);
        });
      },
      timeout,
    );

    it(
      "refuses symlinks that point outside, and files written through them",
      async () => {
        await withJob("jail-symlink", async (job) => {
          const outside = `/tmp/gantry-conformance-out-${tag}`;
          await sh(job, `mkdir -p '${outside}'`);
          try {
            await expectRejected(
              executor().writeFiles(
                job,
                "r1",
                buildTar([
                  { name: "etc", type: "symlink", linkname: "/etc" },
                  { name: `etc/gantry-conformance-${tag}`, content: "x" },
                ]),
              ),
            );
            await absent(job, `/etc/gantry-conformance-${tag}`);
            await expectRejected(
              executor().writeFiles(
                job,
                "r2",
                buildTar([
                  { name: "out", type: "symlink", linkname: outside },
                  { name: "out/pwned", content: "x" },
                ]),
              ),
            );
            await expectRejected(
              executor().writeFiles(job, "r3", buildTar([{ name: "up", type: "symlink", linkname: "../../../../../.." }])),
            );
            await expectRejected(executor().writeFiles(job, "r4", buildTar([{ name: "a/b", type: "symlink", linkname: "../../.." }])));
            await absent(job, `${outside}/pwned`);
            await absent(job, "r3/up");
          } finally {
            await sh(job, `rm -rf '${outside}'`);
          }
        });
      },
      timeout,
    );

    it(
      "refuses to write through a symlink already in the job directory",
      async () => {
        await withJob("jail-through", async (job) => {
          const outside = `/tmp/gantry-conformance-through-${tag}`;
          await sh(job, `mkdir -p '${outside}' && ln -s '${outside}' through && mkdir -p d && ln -s ../through d/inner`);
          try {
            await expectRejected(executor().writeFiles(job, ".", buildTar([{ name: "through/pwned1", content: "x" }])));
            await expectRejected(executor().writeFiles(job, "through", buildTar([{ name: "pwned2", content: "x" }])));
            await expectRejected(executor().writeFiles(job, "d", buildTar([{ name: "inner/pwned3", content: "x" }])));
            await absent(job, `${outside}/pwned1`);
            await absent(job, `${outside}/pwned2`);
            await absent(job, `${outside}/pwned3`);
          } finally {
            await sh(job, `rm -rf '${outside}'`);
          }
        });
      },
      timeout,
    );

    it(
      "refuses hard links to anything outside",
      async () => {
        await withJob("jail-hardlink", async (job) => {
          await expectRejected(
            executor().writeFiles(job, "h1", buildTar([{ name: "hl", type: "link", linkname: "../../../../etc/passwd" }])),
          );
          await expectRejected(executor().writeFiles(job, "h2", buildTar([{ name: "hl", type: "link", linkname: "/etc/passwd" }])));
          await absent(job, "h1/hl");
          await absent(job, "h2/hl");
        });
      },
      timeout,
    );

    it(
      "refuses to read paths outside the job directory",
      async () => {
        await withJob("jail-read", async (job) => {
          await sh(job, "ln -s /etc etc-link");
          await expectRejected(executor().readFiles(job, "../"));
          await expectRejected(executor().readFiles(job, "/etc"));
          await expectRejected(executor().readFiles(job, "etc-link"));
          await expect(executor().readFiles(job, "missing")).rejects.toBeDefined();
        });
      },
      timeout,
    );

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
