/**
 * Masking wrapped base64. `base64 -w 76` (and PEM's 64 columns) cut the
 * encoding of a long secret into lines, so no line holds the whole encoded
 * form the redactor looks for. Line by line, a run of base64 characters is
 * masked where it is
 * - a piece of a secret's encoding (a middle line),
 * - ends with the start of one (the line where the secret begins), or
 * - starts with the end of one (the line where it ends),
 * for pieces of at least `MIN_FRAGMENT_LENGTH` characters. Runs that share no
 * `MIN_FRAGMENT_LENGTH`-gram with any encoding are skipped after a set lookup
 * per character, so ordinary output costs little.
 */
import { MIN_FRAGMENT_LENGTH } from "./secret-forms.js";

const RUN = /[A-Za-z0-9+/_-]+=*/g;

export class FragmentMatcher {
  readonly #forms: readonly string[];
  readonly #grams = new Set<string>();

  /** `forms`: base64 strings (see `wrappableForms`), each at least `2 * MIN_FRAGMENT_LENGTH` long to be useful. */
  constructor(forms: readonly string[]) {
    this.#forms = forms.filter((f) => f.length >= MIN_FRAGMENT_LENGTH);
    for (const form of this.#forms) {
      for (let i = 0; i + MIN_FRAGMENT_LENGTH <= form.length; i++) this.#grams.add(form.slice(i, i + MIN_FRAGMENT_LENGTH));
    }
  }

  get empty(): boolean {
    return this.#forms.length === 0;
  }

  /** `text` with every wrapped-base64 piece of a secret replaced by `mask`. */
  mask(text: string, mask: string): string {
    if (this.#forms.length === 0 || text.length < MIN_FRAGMENT_LENGTH) return text;
    return text.replace(RUN, (run) => (run.length < MIN_FRAGMENT_LENGTH || !this.#touches(run) ? run : this.#maskRun(run, mask)));
  }

  #touches(run: string): boolean {
    for (let i = 0; i + MIN_FRAGMENT_LENGTH <= run.length; i++) if (this.#grams.has(run.slice(i, i + MIN_FRAGMENT_LENGTH))) return true;
    return false;
  }

  #maskRun(run: string, mask: string): string {
    const body = run.replace(/=+$/, "");
    let head = 0; // characters at the start that end a secret's encoding
    let tail = 0; // characters at the end that start a secret's encoding
    for (const form of this.#forms) {
      if (form.includes(body)) return mask;
      head = Math.max(head, endOfFormAtStart(body, form));
      tail = Math.max(tail, startOfFormAtEnd(body, form));
    }
    if (head + tail >= body.length) return mask;
    return (
      (head > 0 ? mask : "") +
      run.slice(head, run.length - tail - (run.length - body.length)) +
      (tail > 0 ? mask : "") +
      run.slice(body.length)
    );
  }
}

/** Length of the longest prefix of `run` (at least MIN_FRAGMENT_LENGTH) that is a suffix of `form`, else 0. */
function endOfFormAtStart(run: string, form: string): number {
  const last = form.slice(-MIN_FRAGMENT_LENGTH);
  for (let end = Math.min(run.length, form.length); end >= MIN_FRAGMENT_LENGTH; end--) {
    const at = run.lastIndexOf(last, end - MIN_FRAGMENT_LENGTH);
    if (at < 0) return 0;
    end = at + MIN_FRAGMENT_LENGTH;
    if (form.endsWith(run.slice(0, end))) return end;
  }
  return 0;
}

/** Length of the longest suffix of `run` (at least MIN_FRAGMENT_LENGTH) that is a prefix of `form`, else 0. */
function startOfFormAtEnd(run: string, form: string): number {
  const first = form.slice(0, MIN_FRAGMENT_LENGTH);
  for (let start = Math.max(0, run.length - form.length); start + MIN_FRAGMENT_LENGTH <= run.length; start++) {
    const at = run.indexOf(first, start);
    if (at < 0 || at + MIN_FRAGMENT_LENGTH > run.length) return 0;
    start = at;
    if (form.startsWith(run.slice(at))) return run.length - at;
  }
  return 0;
}
