/**
 * Masking wrapped base64. `base64 -w 76` (and PEM's 64 columns) cut the
 * encoding of a long secret into lines, so no line holds the whole encoded
 * form the redactor looks for. Line by line, a run of base64 characters is
 * masked where it is
 * - a piece of a secret's encoding (a middle line),
 * - ends with the start of one (the line where the secret begins), or
 * - starts with the end of one (the line where it ends),
 * for pieces of at least `MIN_FRAGMENT_LENGTH` characters. Only runs of at
 * least that length are looked at; a run that shares no
 * `MIN_FRAGMENT_LENGTH`-gram with any encoding is skipped after a rolling
 * hash per character checked against a bitmap of the encodings' grams (a
 * hit is confirmed with a set lookup), so ordinary output costs little.
 */
import { MIN_FRAGMENT_LENGTH } from "./secret-forms.js";

// runs shorter than MIN_FRAGMENT_LENGTH (8) base64 characters are never masked: the regex skips them
const RUN = /[A-Za-z0-9+/_-]{8,}=*/g;
const BITS = 20;
/** 31^(MIN_FRAGMENT_LENGTH - 1), modulo 2^32: the weight of the character leaving the rolling hash. */
const OUT_WEIGHT = (() => {
  let w = 1;
  for (let i = 1; i < MIN_FRAGMENT_LENGTH; i++) w = Math.imul(w, 31);
  return w;
})();

/** The rolling hash of `text.slice(start, start + MIN_FRAGMENT_LENGTH)`. */
function gramHash(text: string, start: number): number {
  let h = 0;
  for (let i = start; i < start + MIN_FRAGMENT_LENGTH; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return h;
}

export class FragmentMatcher {
  readonly #forms: readonly string[];
  readonly #grams = new Set<string>();
  /** One bit per value of the top `BITS` bits of a gram's rolling hash. */
  readonly #bitmap = new Uint8Array(1 << (BITS - 3));

  /** `forms`: base64 strings (see `wrappableForms`), each at least `2 * MIN_FRAGMENT_LENGTH` long to be useful. */
  constructor(forms: readonly string[]) {
    this.#forms = forms.filter((f) => f.length >= MIN_FRAGMENT_LENGTH);
    for (const form of this.#forms) {
      for (let i = 0; i + MIN_FRAGMENT_LENGTH <= form.length; i++) {
        this.#grams.add(form.slice(i, i + MIN_FRAGMENT_LENGTH));
        const slot = gramHash(form, i) >>> (32 - BITS);
        this.#bitmap[slot >>> 3]! |= 1 << (slot & 7);
      }
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
    const bitmap = this.#bitmap;
    let h = gramHash(run, 0);
    for (let i = 0; ; i++) {
      const slot = h >>> (32 - BITS);
      if ((bitmap[slot >>> 3]! & (1 << (slot & 7))) !== 0 && this.#grams.has(run.slice(i, i + MIN_FRAGMENT_LENGTH))) return true;
      if (i + MIN_FRAGMENT_LENGTH >= run.length) return false;
      // roll: drop run[i], add run[i + MIN_FRAGMENT_LENGTH]
      h = (Math.imul(h - Math.imul(run.charCodeAt(i), OUT_WEIGHT), 31) + run.charCodeAt(i + MIN_FRAGMENT_LENGTH)) | 0;
    }
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
