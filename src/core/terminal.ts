/**
 * Text from steps and workflows made safe to show in a terminal or a log
 * viewer: the one place that decides what control sequences may pass.
 *
 * - `safeText` (process output, messages): keeps SGR colour sequences
 *   (`ESC [ … m`) and tabs; removes every other escape sequence (cursor
 *   moves, erase, OSC 0/2 window titles, OSC 8 links, OSC 52 clipboard
 *   writes, DCS/APC/PM/SOS strings, 8-bit C1 forms), other C0/C1 control
 *   characters and bidirectional overrides (U+202A–U+202E, U+2066–U+2069,
 *   U+200E, U+200F, U+061C), which can make text read differently from
 *   what it is. A `\r` inside a line keeps what a terminal would show last:
 *   the text after the last `\r`.
 * - `safeId` (job ids, step names, executor names): nothing is removed;
 *   every control character and bidi override is escaped visibly
 *   (`\n`, `\u202e`), so an id stays one line and reads as it is.
 *
 * Both return their argument unchanged (the same string) when there is
 * nothing to do, after one regular-expression test.
 */

// C0 controls except \t and \n, DEL, C1 controls, bidi controls.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const SEQUENCES = new RegExp(
  [
    // SGR (colours, bold…): kept
    "(\\x1b\\[[0-9;:]*m)",
    // other CSI sequences, 7-bit and 8-bit
    "(?:\\x1b\\[|\\x9b)[0-?]*[ -/]*[@-~]?",
    // OSC, DCS, SOS, PM, APC strings up to BEL or ST (or the end of the text)
    "(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[^\\x07\\x1b\\x9c\\n]*(?:\\x07|\\x1b\\\\|\\x9c)?",
    // other escape sequences: ESC, intermediates, a final byte
    "\\x1b[ -/]*[0-~]?",
    // any other control character (tab and newline stay)
    "[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]",
  ].join("|"),
  "g",
);

/** Keep what a terminal shows of each line: after the last `\r` (unless nothing follows it). */
function lastCarriageReturn(text: string): string {
  if (!text.includes("\r")) return text;
  return text
    .split("\n")
    .map((line) => {
      const body = line.endsWith("\r") ? line.slice(0, -1) : line;
      const cr = body.lastIndexOf("\r");
      return cr >= 0 && cr < body.length - 1 ? body.slice(cr + 1) : body.replaceAll("\r", "");
    })
    .join("\n");
}

/** Process output or a message, safe for a terminal: SGR colours kept, other controls removed (see the module comment). */
export function safeText(text: string): string {
  if (!UNSAFE.test(text)) return text;
  return lastCarriageReturn(text).replace(SEQUENCES, (match, sgr: string | undefined) => sgr ?? "");
}

// eslint-disable-next-line no-control-regex
const UNSAFE_ID = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e" };

/** An id or name, safe for a terminal: control characters and bidi overrides escaped (`\n`, `\u202e`). */
export function safeId(id: string): string {
  UNSAFE_ID.lastIndex = 0;
  if (!UNSAFE_ID.test(id)) return id;
  UNSAFE_ID.lastIndex = 0;
  return id.replace(UNSAFE_ID, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
