/**
 * Scripts that are one plain command run without a shell.
 *
 * `sh\`npm test\`` does not need bash: the executor can `exec` the program
 * directly, which saves a shell start per step (about a third of the cost of
 * a short step). A script qualifies when, and only when, a shell would run it
 * as exactly that argument vector:
 *
 * - one line of words separated by spaces or tabs;
 * - every character is an ASCII letter, digit or one of `_ - . / : , + @ %`
 *   (`=` too, except in the first word, where it would be an assignment, and
 *   the first word does not start with `%`, a job reference);
 * - so no `$`, quotes, backslashes, globs (`* ? [`), braces, `~`,
 *   redirections, pipes, `;`, `&`, parentheses, `#`, `!` or newlines;
 * - the first word is not a shell keyword or builtin (`cd`, `exit`,
 *   `export`, `set`, `pwd`, `kill`, ...), except `true`, `false`, `echo`,
 *   `printf` and `test`, whose programs behave the same for such arguments.
 *
 * The caller also keeps the shell when the environment exports bash
 * functions (`BASH_FUNC_*`), which could shadow the program.
 *
 * Anything else goes through the shell, unchanged. The visible differences
 * of a direct exec: a program that is not found is reported by Gantry
 * (`gantry: x: command not found`, exit 127, as a shell would), and a
 * program killed by a signal is reported as killed by that signal instead of
 * as exit code 128+n.
 */

const WORD = /^[A-Za-z0-9_\-./:,+@%=]+$/;
const SEPARATOR = /[ \t]+/;

/** First words that must reach the shell: keywords and builtins that have no equivalent program. */
const SHELL_ONLY = new Set([
  "!", "[[", "]]", "{", "}", "case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in",
  "select", "then", "time", "until", "while",
  ".", ":", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen", "complete", "compopt",
  "continue", "declare", "dirs", "disown", "enable", "eval", "exec", "exit", "export", "fc", "fg", "getopts", "hash",
  "help", "history", "jobs", "kill", "let", "local", "logout", "mapfile", "popd", "pushd", "pwd", "read", "readarray",
  "readonly", "return", "set", "shift", "shopt", "source", "suspend", "times", "trap", "type", "typeset", "ulimit",
  "umask", "unalias", "unset", "wait",
]); // prettier-ignore

/** The argument vector of `script` when it is one plain command (see above), else `undefined`. */
export function plainCommand(script: string): string[] | undefined {
  const trimmed = script.replace(/^[ \t]+|[ \t]+$/g, "");
  if (trimmed === "") return undefined;
  const words = trimmed.split(SEPARATOR);
  for (const word of words) if (!WORD.test(word)) return undefined;
  const first = words[0] as string;
  if (first.includes("=") || first.startsWith("%") || SHELL_ONLY.has(first)) return undefined;
  return words;
}
