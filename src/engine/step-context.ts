/**
 * The `StepContext` a TypeScript step (or an action) receives. Its processes
 * run in the job's executor; their output is streamed to the log (redacted)
 * and collected (raw) for the caller. `finish()` stops and awaits whatever
 * the step left running and removes the ephemeral containers it left open,
 * so no `exec` or container outlives its step.
 */
import type { ContainerHandle, ExecOptions, JailedFs, NeedResult, ShResult, StepContext } from "../core/context.js";
import { isTemplateStrings, shellQuote, shTemplate } from "../core/definition.js";
import { describe as describeValue } from "../core/issues.js";
import { runInputs } from "../core/inputs.js";
import type { EphemeralContainer } from "../core/ephemeral.js";
import { coerceError, GantryError } from "../core/errors.js";
import type { ExecRequest, Executor, JobInfo } from "../core/executor.js";
import type { PlanJob, PlanStep } from "../core/plan-types.js";
import { execTarget, openEphemeral } from "./ephemeral.js";
import { describedFs } from "./user-errors.js";
import { localJailedFs, remoteJailedFs } from "./job-fs.js";
import { execLogged, exitCodeOf, abortMessage, describeExit, logMessage, type Collected, type LineSink } from "./output.js";
import { envWith, type RunContext } from "./run-context.js";
import { cancelReason, Scope } from "./signals.js";

/** Thrown by `ctx.sh` / `ctx.exec` when the command fails (unless `nothrow`). */
export class StepError extends Error {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly command: string;

  constructor(command: string, result: ShResult, why: string) {
    super(`command failed (${why}): ${command}`);
    this.name = "StepError";
    this.command = command;
    this.exitCode = result.exitCode;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

export interface StepContextArgs {
  readonly run: RunContext;
  readonly job: PlanJob;
  readonly step: PlanStep;
  readonly info: JobInfo;
  readonly executor: Executor;
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly env: Readonly<Record<string, string>>;
  readonly needs: Readonly<Record<string, NeedResult>>;
  /** The job's outputs, written by `setOutput`. */
  readonly outputs: Record<string, string>;
  readonly sink: LineSink;
  readonly killGraceMs: number | undefined;
}

export interface StepContextHandle {
  readonly ctx: StepContext;
  /** Abort what the step left running and wait for it. */
  finish(): Promise<void>;
}

/** The script of `ctx.sh`: a string as written, or a tagged template's raw text with quoted values; `undefined` for anything else. */
function template(strings: unknown, values: readonly unknown[]): string | undefined {
  if (typeof strings === "string") return strings;
  return isTemplateStrings(strings) ? shTemplate(strings, values) : undefined;
}

function shortCommand(text: string): string {
  const first = text.trim().split("\n")[0] ?? "";
  return first.length > 120 ? `${first.slice(0, 117)}...` : first;
}

export function createStepContext(args: StepContextArgs): StepContextHandle {
  const { run, job, step, info, executor, sink } = args;
  const scope = new Scope([args.signal]);
  const inflight = new Set<Promise<unknown>>();
  const containers = new Set<EphemeralContainer>();

  async function runProcess(
    target: Pick<Executor, "exec">,
    request: Omit<ExecRequest, "signal" | "killGraceMs" | "env">,
    options: ExecOptions,
    label: string,
  ): Promise<ShResult> {
    if (scope.signal.aborted) throw new StepError(label, { exitCode: 130, stdout: "", stderr: "" }, abortMessage(scope.signal.reason));
    const collect: Collected = { stdout: [], stderr: [] };
    const req: ExecRequest = {
      ...request,
      env: options.env ? envWith(args.env, options.env) : args.env,
      cwd: options.cwd ?? request.cwd ?? step.workdir,
      signal: scope.signal,
      killGraceMs: run.force.aborted ? 0 : args.killGraceMs,
    };
    const pending = execLogged(run, target, info, req, sink, collect);
    inflight.add(pending);
    let result;
    try {
      result = await pending;
    } finally {
      inflight.delete(pending);
    }
    const out: ShResult = {
      exitCode: exitCodeOf(result),
      stdout: Buffer.concat(collect.stdout).toString("utf8"),
      stderr: Buffer.concat(collect.stderr).toString("utf8"),
    };
    if (result.timedOut || result.cancelled || scope.signal.aborted) {
      const why = scope.signal.aborted ? abortMessage(scope.signal.reason) : result.timedOut ? "timed out" : "cancelled";
      throw new StepError(label, out, why);
    }
    if (out.exitCode !== 0 && !options.nothrow) throw new StepError(label, out, describeExit(result));
    return out;
  }

  let fs: JailedFs | undefined;
  const jailedFs = (): JailedFs => {
    if (fs) return fs;
    const dir = executor.localJobDir?.(info);
    fs = describedFs(
      dir
        ? localJailedFs(dir)
        : remoteJailedFs((argv, stdin) =>
            runProcess(executor, stdin === undefined ? { argv, cwd: "." } : { argv, cwd: ".", stdin }, { nothrow: true }, argv.join(" ")),
          ),
    );
    return fs;
  };

  const ctx: StepContext = {
    runId: run.runId,
    job: job.id,
    step: step.name,
    attempt: args.attempt,
    matrix: job.matrix,
    inputs: runInputs(run.plan),
    env: args.env,
    needs: args.needs,
    get runStatus() {
      return run.runStatus();
    },
    signal: scope.signal,
    log: {
      info: (message) => logMessage(run, sink, "stdout", String(message)),
      warn: (message) => logMessage(run, sink, "stderr", `warning: ${String(message)}`),
      error: (message) => logMessage(run, sink, "stderr", `error: ${String(message)}`),
    },
    get fs() {
      return jailedFs();
    },
    ...processes(executor, "ctx"),
    setOutput(key, value) {
      if (typeof key !== "string" || key.length === 0)
        throw new GantryError("USAGE", `ctx.setOutput needs a non-empty key (got ${JSON.stringify(key)})`);
      args.outputs[key] = typeof value === "string" ? value : String(value);
    },
    container<T>(image: string, fn: (c: ContainerHandle) => Promise<T>): Promise<T> {
      if (typeof image !== "string" || image.trim() === "") {
        return Promise.reject(new GantryError("USAGE", `ctx.container needs an image name (got ${JSON.stringify(image)})`));
      }
      if (typeof fn !== "function") {
        return Promise.reject(new GantryError("USAGE", `ctx.container("${image}", fn) needs a function that uses the container`));
      }
      return withContainer(image, fn);
    },
  };

  /** `sh` and `exec` running on `target` (the job's executor or an ephemeral container). */
  function processes(target: Pick<Executor, "exec">, name: string): ContainerHandle {
    return {
      sh(strings, ...values) {
        const script = template(strings, values);
        if (script === undefined) {
          return Promise.reject(
            new GantryError("USAGE", `${name}.sh needs a string or a tagged template (sh\`...\`), got ${describeValue(strings)}`),
          );
        }
        if (script.trim() === "") return Promise.reject(new GantryError("USAGE", `${name}.sh: the script is empty`));
        return runProcess(target, { script }, {}, shortCommand(script));
      },
      exec(argv, options = {}) {
        if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== "string")) {
          return Promise.reject(new GantryError("USAGE", `${name}.exec needs a non-empty array of strings (program and arguments)`));
        }
        return runProcess(target, { argv }, options, shortCommand(argv.map((a) => shellQuote(a)).join(" ")));
      },
    };
  }

  async function withContainer<T>(image: string, fn: (c: ContainerHandle) => Promise<T>): Promise<T> {
    const purpose = `ctx.container("${image}")`;
    if (scope.signal.aborted) throw new GantryError("CANCELLED", `${purpose}: ${abortMessage(scope.signal.reason)}`);
    // Tracked as in flight so `finish` waits for a start it interrupted, then removes what it started.
    const opening = openEphemeral(run, executor, info, image, scope.signal, purpose).then((container) => {
      containers.add(container);
      return container;
    });
    inflight.add(opening);
    let container: EphemeralContainer;
    try {
      container = await opening;
    } finally {
      inflight.delete(opening);
    }
    try {
      if (scope.signal.aborted) throw new GantryError("CANCELLED", `${purpose}: ${abortMessage(scope.signal.reason)}`);
      return await fn(processes(execTarget(container), `ctx.container("${image}")`));
    } finally {
      containers.delete(container);
      await closeContainer(container);
    }
  }

  async function closeContainer(container: EphemeralContainer): Promise<void> {
    try {
      await container.close();
    } catch (error) {
      logMessage(run, sink, "system", `could not remove the container of ${container.image}: ${coerceError(error).message}`);
    }
  }

  return {
    ctx,
    async finish() {
      if (inflight.size > 0 || containers.size > 0) {
        if (!scope.signal.aborted) scope.abort(cancelReason("the step finished"));
        await Promise.allSettled([...inflight]);
        await Promise.all([...containers].map((c) => closeContainer(c)));
        containers.clear();
      }
      scope.dispose();
    },
  };
}
