/**
 * The remote side of the SSH executor, as pure functions: shell quoting, the
 * exec wrapper and the commands for directories, tar and kills. Nothing here
 * opens a connection; `connection.ts` sends these strings.
 *
 * How an exec works. The remote command line is a constant (`EXEC_COMMAND`):
 * nothing of the request (env values, script, arguments) is ever on it, so
 * `ps` on the host shows no secret. The request travels on the channel's
 * stdin as ONE line of shell code (`execHeader`), which the wrapper reads with
 * `read -r` (shells read a pipe byte by byte, so the rest of stdin is left
 * for the process) and evaluates. The wrapper then:
 *
 *   1. makes sure it leads its own session and process group (OpenSSH's
 *      session child already called setsid(); otherwise it re-execs itself
 *      under `setsid`, which keeps the pid),
 *   2. exports the env and changes to the working directory (checking it
 *      stays inside the job directory),
 *   3. reports its process group on stderr (`@gantry-pgid <n>`, a line the
 *      client strips) and `exec`s the script (bash -eo pipefail, or sh -e)
 *      or the argv program.
 *
 * Because of the `exec`s, the process sshd waits for IS the step's process:
 * its exit code, or the signal that killed it, reaches the client as the
 * channel's exit-status/exit-signal. Killing the group (on abort, and after
 * the exit for leftover background processes) goes over a second channel,
 * the connection's control shell (`CONTROL_COMMAND`, `reapLine`).
 */
import { GantryError } from "../../core/errors.js";

/** `'...'` quoting for POSIX shells: safe for any string without NUL. */
export function shQuote(value: string): string {
  if (value.includes("\0"))
    throw new GantryError(
      "EXECUTOR_FAILED",
      `cannot pass a value containing a NUL byte to a remote shell: ${JSON.stringify(value.slice(0, 40))}`,
    );
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Quoting that stays on one line: newlines become `"$__gn"` (a variable the
 * wrapper sets to a newline), so the whole request fits in one `read -r`.
 */
export function shQuoteLine(value: string): string {
  if (value.includes("\0"))
    throw new GantryError("EXECUTOR_FAILED", `cannot pass a value containing a NUL byte over ssh: ${JSON.stringify(value.slice(0, 40))}`);
  return `'${value.replace(/'/g, `'\\''`).replace(/\n/g, `'"$__gn"'`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names the wrapper uses for itself; a job's env cannot set them. */
const RESERVED = /^__g[a-z]$/;

/** Marker of the wrapper's stderr line that carries the process group, just before the process starts. */
export const PGID_MARKER = "@gantry-pgid ";
/** Marker of a wrapper line that says why the request could not start. */
export const ERROR_MARKER = "@gantry-error ";

/**
 * The wrapper script. Written without single quotes and backslashes, so it can
 * be single-quoted by any POSIX shell (and by fish) without escapes. Problems
 * of the request itself are reported as `@gantry-error <kind> <detail>` lines
 * on stderr before the pgid line, with exit status 125.
 */
const WRAPPER = [
  `if [ -z "$__gz" ] && [ -r /proc/$$/stat ]; then`,
  `  read -r _ _ _ _ __gg _ < /proc/$$/stat`,
  `  if [ "$__gg" != "$$" ] && command -v setsid >/dev/null 2>&1; then __gz=1; export __gz; exec setsid /bin/sh -c "$__gw"; fi`,
  `fi`,
  `__gn="`,
  `"`,
  `IFS= read -r __gh || { echo "${ERROR_MARKER}request no request on stdin" >&2; exit 125; }`,
  `__gb=`,
  `for __gc in /bin/bash /usr/bin/bash /usr/local/bin/bash /opt/homebrew/bin/bash; do if [ -x "$__gc" ]; then __gb=$__gc; break; fi; done`,
  `__gd=.; __gj=; __gm=a; __gs=`,
  `eval "$__gh"`,
  `if [ -n "$__gj" ]; then`,
  `  cd -P -- "$__gj" 2>/dev/null || { echo "${ERROR_MARKER}nojob $__gj" >&2; exit 125; }`,
  `  __gr=$PWD`,
  `  cd -P -- "$__gd" 2>/dev/null || { echo "${ERROR_MARKER}nocwd $__gd" >&2; exit 125; }`,
  `  case "$PWD/" in "$__gr"/*) ;; *) echo "${ERROR_MARKER}escape $PWD" >&2; exit 125;; esac`,
  `else`,
  `  cd -- "$__gd" 2>/dev/null || { echo "${ERROR_MARKER}nocwd $__gd" >&2; exit 125; }`,
  `fi`,
  `unset __gw __gz __gh __gg __gc __gn __gj __gr __gd`,
  `echo "${PGID_MARKER}$$" >&2`,
  `if [ "$__gm" = s ]; then unset __gm; __gc=$__gs; unset __gs; if [ -n "$__gb" ]; then exec "$__gb" --noprofile --norc -eo pipefail -c "$__gc"; else exec /bin/sh -e -c "$__gc"; fi; fi`,
  `unset __gm __gs __gb`,
  `exec "$@"`,
].join("\n");

/** The constant remote command of every exec. */
export const EXEC_COMMAND = `__gw='${WRAPPER}'; export __gw; exec /bin/sh -c "$__gw"`;

/**
 * A shell that stays open on its own channel for the life of a connection
 * and runs the kill lines the client sends (`reapLine`): a kill costs no
 * round trip and no new channel, and gets through when every other channel
 * is busy.
 */
export const CONTROL_COMMAND = `exec /bin/sh -c 'while IFS= read -r l; do eval "$l"; done'`;

/**
 * The control line that ends process group `pgid`: SIGTERM now, and when
 * anything of the group is left, SIGKILL once `graceMs` have passed. Sent
 * on abort and after every exec (leftover background processes end with the
 * process that started them). Costs no fork when the group is already gone.
 */
export function reapLine(pgid: number, graceMs: number): string {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new GantryError("INTERNAL", `refusing to kill process group ${pgid}`);
  const steps = Math.max(1, Math.ceil(graceMs / 100));
  return (
    `kill -TERM -${pgid} 2>/dev/null && ( i=0; ` +
    `while [ $i -lt ${steps} ] && kill -0 -${pgid} 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; ` +
    `kill -KILL -${pgid} 2>/dev/null ) </dev/null >/dev/null 2>&1 &\n`
  );
}

export interface ExecHeaderInput {
  /** Remote directory to run in (absolute, or relative to the login directory). */
  readonly dir: string;
  /** The job directory: when given, `dir` must resolve (symlinks followed) inside it. */
  readonly jobDir?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly script?: string;
  readonly argv?: readonly string[];
}

/**
 * The one-line request the wrapper evaluates: exports, directory, and either
 * the script or the argv (as positional parameters). Ends with a newline.
 */
export function execHeader(input: ExecHeaderInput): string {
  if (input.script !== undefined && input.argv !== undefined) {
    throw new GantryError("EXECUTOR_FAILED", "exec request has both `script` and `argv`; give exactly one");
  }
  const parts: string[] = [];
  const names = Object.keys(input.env).sort();
  const exports: string[] = [];
  for (const name of names) {
    if (!ENV_NAME.test(name) || RESERVED.test(name)) {
      throw new GantryError(
        "EXECUTOR_FAILED",
        `env name ${JSON.stringify(name)} cannot be passed to a remote shell; use letters, digits and underscores`,
      );
    }
    exports.push(`${name}=${shQuoteLine(input.env[name] ?? "")}`);
  }
  if (exports.length > 0) parts.push(`export ${exports.join(" ")}`);
  parts.push(`__gd=${shQuoteLine(remotePath(input.dir))}`);
  if (input.jobDir !== undefined) parts.push(`__gj=${shQuoteLine(remotePath(input.jobDir))}`);
  if (input.script !== undefined) {
    parts.push(`__gm=s`, `__gs=${shQuoteLine(input.script)}`);
  } else {
    const argv = input.argv ?? [];
    if (argv.length === 0 || argv[0] === "")
      throw new GantryError("EXECUTOR_FAILED", "exec request has neither `script` nor a non-empty `argv`");
    parts.push(`__gm=a`, `set -- ${argv.map(shQuoteLine).join(" ")}`);
  }
  return `${parts.join("; ")}\n`;
}

/** A remote path for `cd`: relative ones start with `./`, so CDPATH and a leading `-` play no part. */
export function remotePath(path: string): string {
  return path.startsWith("/") || path.startsWith("./") ? path : `./${path}`;
}

/** A wrapper error line, split into its kind and detail; undefined for other lines. */
export function parseErrorLine(line: string): { kind: string; detail: string } | undefined {
  if (!line.startsWith(ERROR_MARKER)) return undefined;
  const rest = line.slice(ERROR_MARKER.length);
  const space = rest.indexOf(" ");
  return space < 0 ? { kind: rest, detail: "" } : { kind: rest.slice(0, space), detail: rest.slice(space + 1) };
}

/** The process group from the wrapper's stderr line, or undefined when the line is not one. */
export function parsePgidLine(line: string): number | undefined {
  if (!line.startsWith(PGID_MARKER)) return undefined;
  const pgid = Number(line.slice(PGID_MARKER.length).trim());
  return Number.isSafeInteger(pgid) && pgid > 1 ? pgid : undefined;
}

/**
 * Kill every process whose environment carries `GANTRY_SSH_TAG=<tag>` (what a
 * job's processes inherit), TERM then KILL. Linux only (reads /proc); a no-op
 * elsewhere. Used by `cleanupJob`, so nothing a job started outlives it.
 */
export function killTaggedCommand(tag: string, graceMs: number): string {
  if (!/^[A-Za-z0-9-]+$/.test(tag)) throw new GantryError("INTERNAL", `bad process tag ${JSON.stringify(tag)}`);
  const steps = Math.max(1, Math.ceil(graceMs / 100));
  const find = `p=$(grep -lzxF -- "${TAG_VAR}=${tag}" /proc/[0-9]*/environ 2>/dev/null | sed -e "s|^/proc/||" -e "s|/environ$||" | tr "\\n" " ")`;
  return (
    `( [ -d /proc/self ] || exit 0; ${find}; [ -n "$p" ] || exit 0; kill -TERM $p 2>/dev/null; i=0; ` +
    `while [ $i -lt ${steps} ]; do ${find}; [ -n "$p" ] || exit 0; sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; ` +
    `${find}; [ -z "$p" ] || kill -KILL $p 2>/dev/null; exit 0 )`
  );
}

/** The env variable that marks a job's processes on the host. */
export const TAG_VAR = "GANTRY_SSH_TAG";

/** Remove a directory tree; succeeds when it does not exist. Makes read-only trees writable first. */
export function removeCommand(dir: string): string {
  const q = shQuote(dir);
  return `if [ -e ${q} ] || [ -L ${q} ]; then chmod -R u+w -- ${q} 2>/dev/null; rm -rf -- ${q}; fi`;
}

/** Exit codes of the file commands, read by `connection.ts`. */
export const EXIT_NO_TAR = 90;
export const EXIT_MISSING = 91;
export const EXIT_ESCAPE = 92;

const REQUIRE_TAR = `command -v tar >/dev/null 2>&1 || { echo "tar: not found" >&2; exit ${EXIT_NO_TAR}; }`;

/**
 * Restoring into `jobDir/rel`, in two phases. `check` refuses (EXIT_ESCAPE)
 * when a component of `rel` is a symlink, and prints the symlinks already
 * below `rel` (NUL separated, `./`-relative) so the client can check the
 * archive against them before sending it. `extract` unpacks stdin in the job
 * directory (the client's archive names are relative to it).
 */
export function extractCommand(jobDir: string, rel: string, phase: "check" | "extract"): string {
  const cd = [REQUIRE_TAR, `cd -- ${shQuote(remotePath(jobDir))} || exit ${EXIT_MISSING}`];
  if (phase === "extract") return [...cd, `exec tar -x -p -o -f -`].join("; ");
  const checks: string[] = [];
  let prefix = "";
  for (const part of rel === "." ? [] : rel.split("/")) {
    prefix = prefix ? `${prefix}/${part}` : part;
    checks.push(
      `if [ -L ${shQuote(prefix)} ]; then echo "gantry: ${prefix.replace(/["$`\\]/g, "")} is a symlink" >&2; exit ${EXIT_ESCAPE}; fi`,
    );
  }
  const target = shQuote(remotePath(rel));
  return [...cd, ...checks, `if [ -d ${target} ]; then cd -- ${target} && find . -type l -print0; fi`].join("; ");
}

/**
 * A tar stream of `jobDir/rel` on stdout, named like `tar -C path -cf - .`.
 * Refuses (EXIT_ESCAPE) when the path resolves outside the job directory,
 * and says EXIT_MISSING when it does not exist. A single file is sent as
 * `tar -C dir -cf - name` (the client renames the entry).
 */
export function archiveCommand(jobDir: string, rel: string): string {
  const target = shQuote(rel);
  return [
    REQUIRE_TAR,
    `cd -- ${shQuote(remotePath(jobDir))} || exit ${EXIT_MISSING}`,
    `j=$(pwd -P)`,
    `[ -e ${target} ] || exit ${EXIT_MISSING}`,
    `if [ -d ${target} ]; then t=$(cd -P -- ${target} && pwd -P) || exit ${EXIT_MISSING}; else ` +
      `if [ -L ${target} ]; then t=$(readlink -f -- ${target}) || exit ${EXIT_ESCAPE}; else ` +
      `t=$(cd -P -- "$(dirname -- ${target})" && pwd -P)/$(basename -- ${target}) || exit ${EXIT_MISSING}; fi; fi`,
    `case "$t/" in "$j"/*) ;; *) echo "gantry: resolves to $t" >&2; exit ${EXIT_ESCAPE};; esac`,
    `if [ -d "$t" ]; then exec tar -c -f - -C "$t" .; else exec tar -c -f - -C "$(dirname -- "$t")" "$(basename -- "$t")"; fi`,
  ].join("; ");
}

/**
 * A fresh job directory: whatever an earlier attempt left is removed, then
 * the directory is created and, when `repo` is given, filled with a copy of
 * the run's repository snapshot (contents, with modes).
 */
export function freshDirCommand(dir: string, repo?: string): string {
  const make = `${removeCommand(dir)}; mkdir -p -- ${shQuote(dir)}`;
  const filled = repo === undefined ? make : `${make} && cp -pR -- ${shQuote(`${repo}/.`)} ${shQuote(`${dir}/`)}`;
  // Its last line of output is the absolute path (a relative `dir` is relative to the remote home).
  return `${filled} && cd -- ${shQuote(dir)} && pwd`;
}
