/**
 * Pure parts of the container executor: options from the plan, labels,
 * names, the container create spec, the exec wrapper and the scripts run
 * for file operations. No I/O; tested with golden files, without a daemon.
 */
import { posix } from "node:path";
import { GantryError } from "../../core/errors.js";
import { parseExecutorOptions } from "../../core/executor-kind.js";
import type { PlanExecutor } from "../../core/plan-types.js";
import { containerOptionsSchema, type ContainerExecutorOptions } from "./schema.js";
import { shortHash, slug as sharedSlug } from "../shared/names.js";

// ---------------------------------------------------------------- options

export type PullPolicy = "missing" | "always" | "never";
export type ImageSpec =
  string | { readonly build: { readonly context: string; readonly dockerfile?: string; readonly args?: Readonly<Record<string, string>> } };

export interface ContainerOptions {
  readonly image: ImageSpec;
  readonly mode: "shared" | "isolated";
  readonly copyRepo: boolean;
  /** Plain (non-secret) variables of the executor definition; passed per exec, never in the create config. */
  readonly env: Readonly<Record<string, string>>;
  readonly mounts: ReadonlyArray<{ readonly source: string; readonly target: string; readonly readonly: boolean }>;
  readonly user?: string;
  /** Workspace root inside the container (default `/workspace`); jobs live in `<workdir>/jobs/<job>`. */
  readonly workdir: string;
  readonly network?: string;
  readonly pull: PullPolicy;
  readonly engine?: string;
  /** `copy` (default): a labelled volume, files through the archive API; `bind`: a runner directory bind-mounted (local engines only). */
  readonly mount: "bind" | "copy";
}

/** Options of a `container` plan executor, parsed by `containerOptionsSchema` (the compiler's), with defaults applied. */
export function containerOptions(def: PlanExecutor): ContainerOptions {
  const o: ContainerExecutorOptions = parseExecutorOptions(containerOptionsSchema, def);
  return {
    image: o.image,
    mode: o.mode ?? "shared",
    copyRepo: o.copyRepo !== false,
    env: { ...(o.env ?? {}) },
    mounts: (o.mounts ?? []).map((m) => ({ source: m.source, target: m.target, readonly: m.readonly === true })),
    ...(o.user !== undefined && o.user !== "" ? { user: o.user } : {}),
    workdir: posix.normalize(o.workdir ?? "/workspace").replace(/\/$/, ""),
    ...(o.network !== undefined && o.network !== "" ? { network: o.network } : {}),
    pull: o.pull ?? "missing",
    ...(o.engine !== undefined && o.engine !== "" ? { engine: o.engine } : {}),
    mount: o.mount ?? "copy",
  };
}

// ---------------------------------------------------------------- names and labels

export const LABEL_RUN = "gantry.run";
export const LABEL_JOB = "gantry.job";
export const LABEL_EXECUTOR = "gantry.executor";
export const LABEL_ROLE = "gantry.role";
/** `<host>:<pid>` of the gantry process that made it: `gantry doctor --prune` removes what dead processes left. */
export const LABEL_OWNER = "gantry.owner";

export type ContainerRole = "workspace" | "job" | "ephemeral";

export interface LabelInput {
  readonly runId: string;
  readonly executor: string;
  readonly role: ContainerRole | "volume";
  readonly jobId?: string;
  readonly owner: string;
}

/** Labels of every container and volume the executor makes. Never holds env values. */
export function labelsFor(input: LabelInput): Record<string, string> {
  return {
    [LABEL_RUN]: input.runId,
    [LABEL_EXECUTOR]: input.executor,
    ...(input.jobId !== undefined ? { [LABEL_JOB]: input.jobId } : {}),
    [LABEL_ROLE]: input.role,
    [LABEL_OWNER]: input.owner,
  };
}

/** Docker `filters` for objects of a run/executor/job (the arguments that are given). */
export function labelFilters(input: { runId?: string; executor?: string; jobId?: string; role?: string }): { label: string[] } {
  const label = [LABEL_RUN];
  if (input.runId !== undefined) label.push(`${LABEL_RUN}=${input.runId}`);
  if (input.executor !== undefined) label.push(`${LABEL_EXECUTOR}=${input.executor}`);
  if (input.jobId !== undefined) label.push(`${LABEL_JOB}=${input.jobId}`);
  if (input.role !== undefined) label.push(`${LABEL_ROLE}=${input.role}`);
  return { label };
}

/** Whether a label set matches the given run/executor/job/role (client-side: engines differ in how they combine label filters). */
export function labelsMatch(
  labels: Readonly<Record<string, string>> | undefined,
  input: { runId?: string; executor?: string; jobId?: string; role?: string },
): boolean {
  if (!labels || labels[LABEL_RUN] === undefined) return false;
  return (
    (input.runId === undefined || labels[LABEL_RUN] === input.runId) &&
    (input.executor === undefined || labels[LABEL_EXECUTOR] === input.executor) &&
    (input.jobId === undefined || labels[LABEL_JOB] === input.jobId) &&
    (input.role === undefined || labels[LABEL_ROLE] === input.role)
  );
}

/** Container, volume and tag names are lower case (`shared/names.ts` has the one slug). */
const slug = (value: string, max = 40): string => sharedSlug(value, { max, lowercase: true });

/** Directory name of a job: a readable slug plus a short hash of the id (ids differing only in punctuation never collide). */
export function jobDirName(jobId: string): string {
  return `${slug(jobId, 60)}-${shortHash(jobId)}`;
}

/** Absolute job directory inside the container. */
export function jobDir(workdir: string, jobId: string): string {
  return `${workdir}/jobs/${jobDirName(jobId)}`;
}

/** A container or volume name: `gantry-<run>-<executor>[-<job>]-<unique>`; `unique` keeps retries and crashed leftovers apart. */
export function objectName(parts: { runId: string; executor: string; jobId?: string }, unique: string): string {
  const segs = ["gantry", slug(parts.runId, 24), slug(parts.executor, 24)];
  if (parts.jobId !== undefined) segs.push(slug(parts.jobId, 32));
  segs.push(unique);
  return segs.join("-");
}

/** The tag of an image built from a context: content addressed, so an unchanged context is never rebuilt. */
export function buildTag(executor: string, contentHash: string): string {
  return `gantry-build/${slug(executor, 40)}:${contentHash.slice(0, 16)}`;
}

// ---------------------------------------------------------------- create spec

/** Where the workspace root comes from: a labelled volume, or a directory of the runner (bind). */
export type WorkspaceMount = { readonly kind: "volume"; readonly name: string } | { readonly kind: "bind"; readonly hostPath: string };

export interface CreateInput {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly workspace: WorkspaceMount;
  /** Where the workspace is mounted in the container. */
  readonly workspaceTarget: string;
  /** Initial working directory (the workspace root, or the job directory for ephemeral containers). */
  readonly workingDir: string;
  readonly mounts: ContainerOptions["mounts"];
  readonly user?: string;
  readonly network?: string;
  /**
   * Let the init process (root) prepare the directories before it idles and
   * print `READY_LINE` (only without `user`: a user may not write `/`).
   */
  readonly init?: { readonly root: string; readonly fresh: string };
}

/**
 * The idle init process of long-lived containers: waits for ever, reaps
 * orphans (a shell's `wait` collects any child), and exits at once on SIGTERM.
 */
export const IDLE_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/** `sh -c INIT_SCRIPT gantry WORKSPACE_ROOT FRESH_DIR`: control directory, jobs directory (when a root is given), and a fresh (emptied) job directory (when given). */
export const INIT_SCRIPT =
  'mkdir -p /.gantry && chmod 1777 /.gantry && if [ -n "$1" ]; then mkdir -p "$1/jobs" && chmod 1777 "$1/jobs"; fi && if [ -n "$2" ]; then rm -rf "$2" && mkdir -p "$2"; fi';

/** What the self-initialising init process prints when the directories are ready. */
export const READY_LINE = "gantry-ready";

/** Body of `POST /containers/create` (Docker Engine API, also accepted by Podman). No env: variables go per exec. */
export function toCreateOptions(input: CreateInput): Record<string, unknown> {
  const binds = input.mounts.map((m) => `${m.source}:${m.target}${m.readonly ? ":ro" : ""}`);
  const ws =
    input.workspace.kind === "volume"
      ? `${input.workspace.name}:${input.workspaceTarget}`
      : `${input.workspace.hostPath}:${input.workspaceTarget}`;
  return {
    name: input.name,
    Image: input.image,
    Entrypoint: ["/bin/sh"],
    Cmd: input.init
      ? ["-c", `if ${INIT_SCRIPT}; then echo ${READY_LINE}; else exit 1; fi; ${IDLE_SCRIPT}`, "gantry", input.init.root, input.init.fresh]
      : ["-c", IDLE_SCRIPT],
    Labels: { ...input.labels },
    WorkingDir: input.workingDir,
    ...(input.user !== undefined ? { User: input.user } : {}),
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: input.init !== undefined,
    AttachStderr: input.init !== undefined,
    StopSignal: "SIGTERM",
    HostConfig: {
      Binds: [ws, ...binds],
      AutoRemove: false,
      ...(input.network !== undefined ? { NetworkMode: input.network } : {}),
    },
  };
}

// ---------------------------------------------------------------- exec

/** Directory for exec bookkeeping (process group files, stdin), outside every workspace. */
export const CONTROL_DIR = "/.gantry";

/**
 * The wrapper every exec runs under (`/bin/sh -c WRAPPER gantry PIDFILE GRACE INPUT MODE ARGS...`).
 * It starts the process in a new session (`setsid`, or job control when
 * there is no `setsid`), records the process group in PIDFILE, waits for
 * it, and ends what the process left running in its group (SIGTERM, then
 * SIGKILL after GRACE ms). The wrapper's own stderr goes to /dev/null
 * (no "Terminated" notices in the step's log). Its exit status is the process's (128+N for a signal).
 * The cancel script (`KILL_SCRIPT`) reads PIDFILE to end the group from a second exec.
 */
export const WRAPPER_SCRIPT = `pidfile=$1 grace=$2 input=$3 mode=$4
shift 4
[ -n "$input" ] || input=/dev/null
if [ "$mode" = script ]; then
  if command -v bash >/dev/null 2>&1; then set -- bash --noprofile --norc -eo pipefail -c "$1"
  elif (set -o pipefail) 2>/dev/null; then set -- sh -eo pipefail -c "$1"
  else set -- sh -e -c "$1"; fi
fi
exec 3>&2 2>/dev/null
if command -v setsid >/dev/null 2>&1; then
  setsid "$@" <"$input" 2>&3 3>&- &
else
  set -m
  "$@" <"$input" 2>&3 3>&- &
  set +m
fi
pid=$!
echo "$pid" >"$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
wait "$pid"
code=$?
if kill -0 -"$pid" 2>/dev/null; then
  kill -TERM -"$pid" 2>/dev/null
  i=0
  while kill -0 -"$pid" 2>/dev/null; do
    if [ $((i * 50)) -ge "$grace" ]; then kill -KILL -"$pid" 2>/dev/null; break; fi
    sleep 0.05
    i=$((i + 1))
  done
fi
rm -f "$pidfile"
case "$input" in ${CONTROL_DIR}/*) rm -f "$input" ;; esac
exit "$code"`;

/** Ends an exec's process group: SIGTERM, then SIGKILL after GRACE ms (`/bin/sh -c KILL_SCRIPT gantry PIDFILE GRACE`). */
export const KILL_SCRIPT = `pidfile=$1 grace=$2
i=0
while [ ! -s "$pidfile" ]; do
  [ "$i" -ge 40 ] && exit 0
  sleep 0.05
  i=$((i + 1))
done
pg=$(cat "$pidfile") || exit 0
kill -TERM -"$pg" 2>/dev/null || exit 0
i=0
while kill -0 -"$pg" 2>/dev/null; do
  if [ $((i * 50)) -ge "$grace" ]; then kill -KILL -"$pg" 2>/dev/null; exit 0; fi
  sleep 0.05
  i=$((i + 1))
done`;

export interface ExecSpecInput {
  readonly execId: string;
  readonly script?: string;
  readonly argv?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Absolute working directory in the container. */
  readonly workingDir: string;
  readonly graceMs: number;
  /** Absolute path of an uploaded stdin file, when the request has stdin. */
  readonly stdinPath?: string;
  readonly user?: string;
}

export function pidFile(execId: string): string {
  return `${CONTROL_DIR}/${execId}.pid`;
}

/** Body of `POST /containers/{id}/exec` for one process under the wrapper. Env is only ever here. */
export function toExecOptions(input: ExecSpecInput): Record<string, unknown> {
  if (input.script !== undefined && input.argv !== undefined) {
    throw new GantryError("EXECUTOR_FAILED", "exec request has both `script` and `argv`; give exactly one");
  }
  let mode: "script" | "argv";
  let rest: string[];
  if (input.script !== undefined) {
    mode = "script";
    rest = [input.script];
  } else {
    if (input.argv === undefined || input.argv.length === 0 || input.argv[0] === "") {
      throw new GantryError("EXECUTOR_FAILED", "exec request has neither `script` nor a non-empty `argv`");
    }
    mode = "argv";
    rest = [...input.argv];
  }
  return {
    Cmd: ["/bin/sh", "-c", WRAPPER_SCRIPT, "gantry", pidFile(input.execId), String(input.graceMs), input.stdinPath ?? "", mode, ...rest],
    Env: Object.entries(input.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: input.workingDir,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    ...(input.user !== undefined ? { User: input.user } : {}),
  };
}

/** Body of the exec that ends an exec's process group. */
export function toKillOptions(execId: string, graceMs: number): Record<string, unknown> {
  return {
    Cmd: ["/bin/sh", "-c", KILL_SCRIPT, "gantry", pidFile(execId), String(graceMs)],
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    User: "0",
  };
}

// ---------------------------------------------------------------- file operation scripts

/**
 * Resolves a path for reading (`sh -c RESOLVE_SCRIPT gantry JOBDIR REL`): prints
 * the real job directory and the real path on two lines, or `missing`.
 */
export const RESOLVE_SCRIPT = `cd "$1" || exit 3
root=$(pwd -P)
if [ ! -e "$2" ] && [ ! -L "$2" ]; then echo missing; exit 0; fi
real=$(readlink -f -- "$2") || { echo missing; exit 0; }
[ -e "$real" ] || { echo missing; exit 0; }
printf '%s\\n%s\\n' "$root" "$real"`;

/**
 * Prepares a job directory for an archive upload (`sh -c PREPARE_SCRIPT gantry JOBDIR ARGS...`).
 * Each argument is `d:<rel>` (must be a real directory: created when
 * missing, refused when it is a symlink or a non-directory) or `l:<rel>` (a
 * leaf about to be written: an existing file or symlink there is removed,
 * never followed; an existing directory is refused). Paths are relative to
 * JOBDIR and already normalised. Exit 3 = escape, 4 = invalid; the reason on stdout.
 */
export const PREPARE_SCRIPT = `cd "$1" || exit 5
shift
for arg in "$@"; do
  p=\${arg#?:}
  case "$arg" in
  d:*)
    [ "$p" = . ] && continue
    if [ -L "$p" ]; then echo "$p is a symlink; refusing to write through it"; exit 3; fi
    if [ -e "$p" ]; then
      [ -d "$p" ] || { echo "$p exists and is not a directory"; exit 4; }
    else
      mkdir -- "$p" || exit 5
    fi ;;
  l:*)
    if [ -L "$p" ]; then rm -f -- "$p"
    elif [ -d "$p" ]; then echo "a directory already exists at $p"; exit 4
    elif [ -e "$p" ]; then rm -f -- "$p"; fi ;;
  esac
done`;

/** The `d:`/`l:` arguments of `PREPARE_SCRIPT` for leaves at the given paths: every ancestor directory (parents first), then the leaves. */
export function prepareArgs(dirs: Iterable<string>, leaves: Iterable<string>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  const addDir = (rel: string): void => {
    if (rel === "." || seen.has(rel)) return;
    addDir(posix.dirname(rel));
    seen.add(rel);
    out.push(`d:${rel}`);
  };
  for (const d of dirs) addDir(d);
  const leafList = [...new Set(leaves)];
  for (const l of leafList) addDir(posix.dirname(l));
  for (const l of leafList) out.push(`l:${l}`);
  return out;
}
