/**
 * The `gantry` command line. `main(argv)` parses the arguments, runs one
 * command and returns the exit code:
 *
 *   0   success
 *   1   a job failed, or the machine is in the way (a file where a directory
 *       should be, no permission, a full disk: one sentence naming the path),
 *       or an unexpected error (a bug, printed with its stack)
 *   2   invalid workflow or usage (LOAD_FAILED, PLAN_INVALID, USAGE, ENV_*)
 *   130 interrupted
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { GantryError, type ErrorCode } from "../core/errors.js";
import { parseSize } from "../core/size.js";
import { buildCommand } from "./build.js";
import { dryRunCommand } from "./dry-run.js";
import { describeCause, describeSystemError } from "./environment.js";
import { GRAPH_FORMATS, graphCommand, type GraphFormat } from "./graph.js";
import { initCommand } from "./init.js";
import { processIo, type CliIo } from "./io.js";

/** For bin/gantry.js: wait for stdout and stderr to be written before exiting. */
export { flushed } from "./io.js";
import { listCommand } from "./list.js";
import type { LogFormat, RunOptions } from "./run-options.js";
import { validateCommand } from "./validate.js";
import { artifactsCommand } from "./artifacts.js";
import { doctorCommand } from "./doctor.js";
import { gcCommand } from "./gc.js";
import { logsCommand } from "./logs.js";
import { RUN_STATUSES, runsCommand } from "./runs.js";
import { registerServerCommands } from "./server.js";
import { showCommand } from "./show.js";

export const EXIT = { ok: 0, failed: 1, invalid: 2, interrupted: 130 } as const;

const USER_ERRORS: ReadonlySet<ErrorCode> = new Set(["PLAN_INVALID", "LOAD_FAILED", "USAGE", "ENV_MISSING", "ENV_INVALID"]);

/** Exit code for an error that reached the top. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof GantryError) {
    if (USER_ERRORS.has(error.code)) return EXIT.invalid;
    return error.code === "CANCELLED" ? EXIT.interrupted : EXIT.failed;
  }
  return EXIT.failed;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  const key = eq < 0 ? "" : value.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new InvalidArgumentError(`expected NAME=VALUE with a variable name, got "${value}"`);
  return { ...previous, [key]: value.slice(eq + 1) };
}

/** `--input key=value`: any non-empty key (the workflow's schema names the valid ones); the value stays a string. */
function inputValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected KEY=VALUE (an input of the workflow), got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a whole number >= 1, got "${value}"`);
  return n;
}

function size(value: string): number {
  const n = parseSize(value);
  if (n === undefined) throw new InvalidArgumentError(`expected a size such as 100MiB, 1GiB or 500KB, got "${value}"`);
  return n;
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}

function withDir(cmd: Command): Command {
  return cmd.option("-C, --dir <dir>", "repository directory (default: the current directory)");
}

function withTarget(cmd: Command): Command {
  return withDir(cmd).option("-f, --file <file>", "workflow file, relative to the repository directory (default: .gantry/*.ts)");
}

/** The flags `run` and `rerun` share. */
interface RunFlags {
  dir?: string;
  concurrency?: number;
  failFast?: boolean;
  logFormat?: LogFormat;
  logDir?: string;
  logLimit?: number;
  envFile: string[];
  secretFile: string[];
  env: Record<string, string>;
  secret: Record<string, string>;
}

function withRunFlags(cmd: Command): Command {
  return cmd
    .option("--concurrency <n>", "run at most N jobs at once", positiveInt)
    .option("--fail-fast", "cancel the remaining jobs after the first failure")
    .option("--no-fail-fast", "let independent jobs finish after a failure")
    .addOption(
      new Option("--log-format <format>", "output: pretty (TTY default), plain (timestamped lines), json (one event per line)").choices([
        "pretty",
        "plain",
        "json",
      ]),
    )
    .option("--log-dir <dir>", "also write events.jsonl and one plain <job>.log per job into DIR (the store keeps the logs either way)")
    .option(
      "--log-limit <size>",
      "output kept per job, e.g. 100MiB (default: the job's logLimit, else 100MiB); the rest is counted, not kept",
      size,
    )
    .option("--env-file <file>", "load variables from a dotenv file (repeatable)", collect, [])
    .option("--secret-file <file>", "load secrets from a dotenv file; redacted everywhere (repeatable)", collect, [])
    .option("--env <name=value>", "set a variable (repeatable)", keyValue, {})
    .option("--secret <name=value>", "set a secret; redacted everywhere (repeatable)", keyValue, {});
}

function runFlags(o: RunFlags, cmd: Command): Omit<RunOptions, "job" | "only" | "dryRun" | "watch"> {
  return {
    ...(o.dir ? { dir: o.dir } : {}),
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(cmd.getOptionValueSource("failFast") === "cli" ? { failFast: o.failFast === true } : {}),
    ...(o.logFormat ? { logFormat: o.logFormat } : {}),
    ...(o.logDir ? { logDir: o.logDir } : {}),
    ...(o.logLimit !== undefined ? { logLimit: o.logLimit } : {}),
    envFile: o.envFile,
    secretFile: o.secretFile,
    env: o.env,
    secret: o.secret,
  };
}

/** Build the command tree. Actions store their exit code through `done`. */
export function createProgram(io: CliIo, done: (code: number) => void): Command {
  const program = new Command("gantry");
  program
    .description("Typed TypeScript workflows: a DAG of jobs run on local, container or ssh executors.")
    .version(version(), "-V, --version")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .option("-C, --dir <dir>", "repository directory (default: the current directory)")
    .addHelpText(
      "after",
      `${examples(["gantry init", "gantry list", "gantry validate", "gantry graph --format mermaid", "gantry run --dry-run", "gantry run -f examples/hello.ts"])}
Exit codes: 0 success, 1 a job failed, 2 invalid workflow or usage, 130 interrupted.
`,
    );

  const opts = <T>(cmd: Command): T => cmd.optsWithGlobals<T & Record<string, unknown>>();

  withDir(program.command("init"))
    .description("create .gantry/ci.ts, a small working workflow, and ignore .gantry/state/ in git")
    .addHelpText("after", examples(["gantry init", "gantry init -C path/to/repo"]))
    .action(async (_options: unknown, cmd: Command) => {
      // init may create the directory it is given; every other command needs an existing one.
      done(await initCommand(resolve(process.cwd(), opts<{ dir?: string }>(cmd).dir ?? "."), io));
    });

  withTarget(program.command("list"))
    .description("list the workflows, their triggers and their jobs (matrix expanded)")
    .option("--json", "print JSON")
    .addHelpText("after", examples(["gantry list", "gantry list --json", "gantry list -f examples/matrix.ts"]))
    .action(async (_options: unknown, cmd: Command) => {
      done(await listCommand(opts<{ dir?: string; file?: string; json?: boolean }>(cmd), io));
    });

  withDir(program.command("validate [files...]"))
    .description("check every workflow (or the files given) and report all problems; exit 2 when any is invalid")
    .option("-f, --file <file>", "workflow file to check (repeatable)", collect, [])
    .addHelpText("after", examples(["gantry validate", "gantry validate -f examples/diamond.ts", "gantry validate examples/invalid/*.ts"]))
    .action(async (files: string[], _options: unknown, cmd: Command) => {
      const o = opts<{ dir?: string; file: string[] }>(cmd);
      done(await validateCommand({ ...(o.dir ? { dir: o.dir } : {}), files: [...o.file, ...files] }, io));
    });

  withTarget(program.command("graph [workflow]"))
    .description("print the job graph of a workflow")
    .addOption(new Option("--format <format>", "output format").choices(GRAPH_FORMATS).default("ascii"))
    .addHelpText(
      "after",
      examples([
        "gantry graph",
        "gantry graph ci --format mermaid",
        "gantry graph -f examples/diamond.ts --format dot | dot -Tsvg > graph.svg",
      ]),
    )
    .action(async (workflow: string | undefined, _options: unknown, cmd: Command) => {
      const o = opts<{ dir?: string; file?: string; format: GraphFormat }>(cmd);
      done(await graphCommand({ ...o, ...(workflow ? { workflow } : {}) }, io));
    });

  withTarget(program.command("build [workflow]"))
    .description("compile a workflow: write plan.json and its bundle <hash>.mjs")
    .option("--out <dir>", "output directory (default: .gantry/state/build/<workflow file stem>)")
    .addHelpText("after", examples(["gantry build", "gantry build ci --out build/", "gantry build -f examples/matrix.ts --out /tmp/plan"]))
    .action(async (workflow: string | undefined, _options: unknown, cmd: Command) => {
      const o = opts<{ dir?: string; file?: string; out?: string }>(cmd);
      done(await buildCommand({ ...o, ...(workflow ? { workflow } : {}) }, io));
    });

  withRunFlags(
    withTarget(program.command("run [workflow]"))
      .description("run a workflow (or only print what would run, with --dry-run)")
      .option("-j, --job <id>", "run this job and what it needs (repeatable; a job key selects all its matrix jobs)", collect, [])
      .option("--only", "with --job: run only the selected jobs, not the jobs they need")
      .option("-n, --dry-run", "print the jobs, steps, executors, artifacts and env names in order; run nothing")
      .option(
        "--input <key=value>",
        "a typed input of the workflow (repeatable); converted by its schema (numbers, booleans, JSON)",
        inputValue,
        {},
      ),
  )
    .option("--watch", "run again when files change")
    .addHelpText(
      "after",
      examples([
        "gantry run",
        "gantry run -f examples/hello.ts",
        "gantry run ci -j test --concurrency 2",
        "gantry run --dry-run --env-file .env --secret NPM_TOKEN=abc",
        "gantry run -j deploy --only --log-format json",
        "gantry run deploy --input target=staging --input dryRun=true",
      ]),
    )
    .action(async (workflow: string | undefined, _options: unknown, cmd: Command) => {
      const o = opts<
        RunFlags & { file?: string; job: string[]; only?: boolean; dryRun?: boolean; watch?: boolean; input: Record<string, string> }
      >(cmd);
      const options: RunOptions = {
        ...runFlags(o, cmd),
        inputs: o.input,
        ...(o.file ? { file: o.file } : {}),
        ...(workflow ? { workflow } : {}),
        job: o.job,
        only: o.only === true,
        dryRun: o.dryRun === true,
        watch: o.watch === true,
      };
      if (options.only && options.job.length === 0) throw new GantryError("USAGE", "--only needs at least one --job");
      if (options.dryRun) done(await dryRunCommand(options, io));
      else if (options.watch) {
        const [{ watchCommand }, { compileForRun }] = await Promise.all([import("./watch.js"), import("./run.js")]);
        done(await watchCommand(options, io, () => compileForRun(options)));
      } else done(await (await import("./run.js")).runCommand(options, io));
    });

  withRunFlags(withDir(program.command("rerun <run>")))
    .description("run a recorded run again with the same plan and code; --failed: only what failed and what needs it")
    .option("--failed", "re-run only the failed, cancelled and timed-out jobs and their dependants; reuse the rest")
    .addHelpText("after", examples(["gantry rerun last", "gantry rerun last --failed", "gantry rerun 20261123-1015 --log-format plain"]))
    .action(async (run: string, _o: unknown, cmd: Command) => {
      const o = opts<RunFlags & { failed?: boolean }>(cmd);
      const options = { ...runFlags(o, cmd), job: [], only: false, dryRun: false, watch: false, run, failed: o.failed === true };
      done(await (await import("./rerun.js")).rerunCommand(options, io));
    });

  withDir(program.command("runs"))
    .description("list past runs, newest first")
    .option("--workflow <name>", "only runs of this workflow")
    .addOption(new Option("--status <status>", "only runs with this status").choices(RUN_STATUSES as string[]))
    .option("--limit <n>", "at most N runs (default 20)", positiveInt)
    .option("--json", "print JSON")
    .addHelpText("after", examples(["gantry runs", "gantry runs --status failure --limit 5", "gantry runs --json"]))
    .action(async (_o: unknown, cmd: Command) => done(await runsCommand(opts(cmd), io)));

  withDir(program.command("show <run>"))
    .description("show a run's jobs and steps with statuses, attempts, durations and artifacts (RUN: id, unique prefix, or last)")
    .option("--json", "print JSON")
    .addHelpText("after", examples(["gantry show last", "gantry show 20261123-1015"]))
    .action(async (run: string, _o: unknown, cmd: Command) => done(await showCommand({ ...opts<object>(cmd), run }, io)));

  withDir(program.command("logs <run>"))
    .description("print a run's logs; -f follows a run in progress")
    .option("-j, --job <job>", "only this job (a key selects all its matrix jobs)")
    .option("--step <step>", "only this step (name or number)")
    .option("-f, --follow", "keep printing new lines until the run ends")
    .option("--no-timestamps", "print lines without timestamps")
    .addHelpText("after", examples(["gantry logs last", "gantry logs last -j build --step 2", "gantry logs last -f"]))
    .action(async (run: string, _o: unknown, cmd: Command) => done(await logsCommand({ ...opts<object>(cmd), run }, io)));

  withDir(program.command("artifacts <run> [name]"))
    .description("list a run's artifacts, or extract one with --out")
    .option("--out <dir>", "extract into this directory")
    .option("--json", "print JSON")
    .addHelpText("after", examples(["gantry artifacts last", "gantry artifacts last dist --out ./dist"]))
    .action(async (run: string, name: string | undefined, _o: unknown, cmd: Command) =>
      done(await artifactsCommand({ ...opts<object>(cmd), run, ...(name ? { name } : {}) }, io)),
    );

  withDir(program.command("gc"))
    .description("delete runs older than N days, their logs and the blobs nothing references")
    .requiredOption("--keep-days <n>", "days of history to keep", Number)
    .option("--json", "print JSON")
    .addHelpText("after", examples(["gantry gc --keep-days 30"]))
    .action(async (_o: unknown, cmd: Command) => done(await gcCommand(opts(cmd), io)));

  program
    .command("doctor")
    .description("show the container engine Gantry uses; --prune removes what crashed runs left behind")
    .option("--engine <engine>", "docker, podman, a socket path or URL (default: discovery)")
    .option("--prune", "remove gantry containers and volumes whose gantry process is gone")
    .option("--all", "with --prune: also those of live runs and other hosts")
    .option("--json", "print JSON")
    .addHelpText("after", examples(["gantry doctor", "gantry doctor --prune"]))
    .action(async (o: { engine?: string; prune?: boolean; all?: boolean; json?: boolean }) => done(await doctorCommand(o, io)));

  registerServerCommands(program, io, done);

  return program;
}

/** Run the command line with `argv` (the user's arguments, without `node` and the script). */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let code: number = EXIT.ok;
  const program = createProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    if (error instanceof GantryError) {
      io.err(io.errColor.red(describeCause(error)));
      return exitCodeFor(error);
    }
    // The machine's fault (a file where a directory should be, no permission, a full disk): one sentence, no stack.
    const environment = describeSystemError(error);
    if (environment !== undefined) {
      io.err(io.errColor.red(`gantry: ${environment}`));
      return EXIT.failed;
    }
    const bug = error instanceof Error ? (error.stack ?? error.message) : String(error);
    io.err(`gantry: unexpected error (this is a bug in gantry, please report it):\n${bug}`);
    return EXIT.failed;
  }
}
