/**
 * One secret redactor for every output sink (terminal, store, live stream,
 * step outputs, error messages).
 *
 * A `Redactor` holds the expanded set of strings to hide and replaces every
 * occurrence with `***`, longest match first. `createLineRedactor` wraps it
 * for byte streams: it splits into lines, decodes UTF-8 across chunk
 * boundaries and redacts across chunk boundaries, so a secret written one byte
 * at a time is still hidden.
 *
 * Expansion: each secret is hidden as written and in the encoded forms listed
 * in `secret-forms.ts` (base64 at three alignments, URL, JSON and shell
 * escaping); pieces of the base64 of a long secret cut into lines (`base64 -w
 * 76`) are masked line by line (`fragments.ts`).
 *
 * Strings shorter than {@link MIN_SECRET_LENGTH} characters are ignored: hiding
 * `"1"` or `"ab"` would turn every log into asterisks (and, by showing where the
 * asterisks fall, reveal the value anyway), while a secret that short gives no
 * protection worth having.
 */
import { StringDecoder } from "node:string_decoder";
import { rememberLinesText } from "../core/events.js";
import { safeText } from "../core/terminal.js";
import { FragmentMatcher } from "./fragments.js";
import { expandSecret, MIN_SECRET_LENGTH, wrappableForms } from "./secret-forms.js";

export const REDACTED = "***";
/** Shorter strings are not redacted (see the module comment). */
export { expandSecret, MIN_SECRET_LENGTH };
/** A line longer than this (in UTF-16 code units) is emitted in pieces. */
export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024;

const escapeRegExp = (value: string): string => value.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** Longest first, then by code units, so the RegExp alternation prefers the longest match. */
function compile(patterns: readonly string[]): RegExp | undefined {
  if (patterns.length === 0) return undefined;
  return new RegExp(patterns.map(escapeRegExp).join("|"), "g");
}

function byLengthDesc(a: string, b: string): number {
  return b.length - a.length || (a < b ? -1 : a > b ? 1 : 0);
}

export class Redactor {
  /** The expanded set of strings that are replaced, longest first. */
  readonly secrets: readonly string[];
  /** Length of the longest string without a line break (what a line can contain). */
  readonly maxLineSecretLength: number;
  readonly #all: RegExp | undefined;
  readonly #line: RegExp | undefined;
  readonly #fragments: FragmentMatcher;

  constructor(secrets: Iterable<string>) {
    const set = new Set<string>();
    const wrappable = new Set<string>();
    for (const secret of secrets) {
      for (const form of expandSecret(secret)) set.add(form);
      for (const form of wrappableForms(secret)) wrappable.add(form);
    }
    this.#fragments = new FragmentMatcher([...wrappable]);
    this.secrets = Object.freeze([...set].sort(byLengthDesc));
    const lineSecrets = this.secrets.filter((s) => !s.includes("\n"));
    this.maxLineSecretLength = lineSecrets[0]?.length ?? 0;
    this.#all = compile(this.secrets);
    this.#line = compile(lineSecrets);
  }

  /** True when there is nothing to redact (the stream splitter then only splits). */
  get empty(): boolean {
    return this.#all === undefined;
  }

  /** Replace every occurrence of every secret (and its encoded forms) with `***`. */
  redact(text: string): string {
    if (this.#all === undefined || text.length < MIN_SECRET_LENGTH) return text;
    return this.#fragments.mask(text.replace(this.#all, REDACTED), REDACTED);
  }

  /**
   * Like `redact`, for text that holds no line break or only whole lines: the
   * patterns containing a line break are left out, so each line of a
   * multi-line secret is replaced on its own and the line count is kept.
   */
  redactLines(text: string): string {
    if (this.#line === undefined || text.length < MIN_SECRET_LENGTH) return text;
    return this.#fragments.mask(text.replace(this.#line, REDACTED), REDACTED);
  }

  /**
   * Redact the start of an unfinished line, for emitting it in pieces. Returns
   * the redacted piece (about `limit` characters of `text`) and how many
   * characters of `text` it covers. At least the longest secret minus one
   * character is always kept back, because a secret may begin there and end in
   * input not seen yet; a match that straddles the cut is emitted whole.
   */
  redactPrefix(text: string, limit: number): { emitted: string; consumed: number } {
    const tail = Math.max(0, this.maxLineSecretLength - 1);
    let cut = Math.min(limit, text.length - tail);
    if (cut <= 0) return { emitted: "", consumed: 0 };
    // do not split a surrogate pair between two pieces
    if (cut < text.length && isHighSurrogate(text.charCodeAt(cut - 1)) && cut > 1) cut -= 1;
    const re = this.#line;
    if (re === undefined) return { emitted: text.slice(0, cut), consumed: cut };
    // every secret starting before `cut` ends within `cut + tail` characters, so its match is final
    const window = text.slice(0, Math.min(text.length, cut + tail));
    let out = "";
    let last = 0;
    re.lastIndex = 0;
    for (let m = re.exec(window); m !== null && m.index < cut; m = re.exec(window)) {
      out += window.slice(last, m.index) + REDACTED;
      last = m.index + m[0].length;
      if (last > cut) cut = last;
    }
    re.lastIndex = 0;
    return { emitted: out + window.slice(last, cut), consumed: cut };
  }
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

export interface LineRedactor {
  /** Feed bytes (UTF-8) or text (use one kind per stream); complete lines are passed to `onLines` redacted, in blocks. */
  write(chunk: Buffer | string): void;
  /** Flush what is left (a last line without `\n`). Further writes are ignored. */
  end(): void;
}

export interface LineRedactorOptions {
  /** Emit a line without `\n` in pieces once it is this long (default 64 KiB). */
  readonly maxLineLength?: number;
}

/** The lines of a block of text: split at `\n`, a trailing `\r` removed from each. */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (text.includes("\r")) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.charCodeAt(line.length - 1) === 13) lines[i] = line.slice(0, -1);
    }
  }
  return lines;
}

/**
 * Split a byte stream into redacted lines, passed on in blocks: every chunk
 * that completes lines gives one call of `onLines` with all of them (never
 * an empty array). Lines end at `\n`; a trailing `\r` is removed. A line
 * longer than `maxLineLength` is emitted in pieces, each piece redacted,
 * keeping back enough characters that a secret spanning the cut is still
 * found whole.
 */
export function createLineRedactor(
  redactor: Redactor,
  onLines: (lines: string[]) => void,
  options: LineRedactorOptions = {},
): LineRedactor {
  const maxLineLength = Math.max(1, options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH);
  const decoder = new StringDecoder("utf8");
  const plain = redactor.empty;
  let pending = "";
  let ended = false;

  // `block` holds whole lines separated by "\n" (no trailing "\n"); terminal controls go before
  // redaction, so a secret split by an escape sequence is whole again when it is looked for
  const emitBlock = (block: string): void => {
    const safe = safeText(block);
    const text = plain ? safe : redactor.redactLines(safe);
    const lines = splitLines(text);
    if (!text.includes("\r")) rememberLinesText(lines, text);
    onLines(lines);
  };

  const flushLong = (): void => {
    // keep back the longest secret minus one character: a secret may start there
    const pieces: string[] = [];
    while (pending.length >= maxLineLength + Math.max(0, redactor.maxLineSecretLength - 1)) {
      const { emitted, consumed } = redactor.redactPrefix(pending, maxLineLength);
      if (consumed === 0) break;
      pieces.push(safeText(emitted));
      pending = pending.slice(consumed);
    }
    if (pieces.length > 0) onLines(pieces);
  };

  const push = (text: string): void => {
    if (text === "") return;
    const lastNl = text.lastIndexOf("\n");
    if (lastNl === -1) {
      pending += text;
      if (pending.length >= maxLineLength) flushLong();
      return;
    }
    const block = pending + text.slice(0, lastNl);
    pending = text.slice(lastNl + 1);
    emitBlock(block);
    if (pending.length >= maxLineLength) flushLong();
  };

  return {
    write(chunk) {
      if (ended) return;
      push(typeof chunk === "string" ? chunk : decoder.write(chunk));
    },
    end() {
      if (ended) return;
      ended = true;
      const rest = decoder.end();
      if (rest) pending += rest;
      if (pending !== "") emitBlock(pending);
      pending = "";
    },
  };
}
