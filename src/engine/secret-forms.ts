/**
 * The forms in which a secret may reach output, registered with the
 * redactor (see `redact.ts`). What is claimed, per secret of at least
 * `MIN_SECRET_LENGTH` characters (and per non-empty line of a multi-line one):
 *
 * - as written;
 * - base64, standard and url-safe, padded and unpadded, at the three byte
 *   alignments (`base64(x + secret + y)` for any `x`, `y`: the characters that
 *   depend on the secret alone), as GitHub's runner does: this covers
 *   `Authorization: Basic base64(user:secret)`;
 * - URL-encoded: `encodeURIComponent`, Python's `quote` (keeps `/`, encodes
 *   `!'()*`), `quote_plus` (`+` for a space), and form encoding
 *   (`URLSearchParams`);
 * - JSON-escaped (the inside of a JSON string);
 * - shell-escaped: single-quoted as `shellQuote` and bash's xtrace write it,
 *   and backslash-escaped as `printf %q` writes it.
 *
 * Not claimed (docs/security.md): reversed, character-separated, hex,
 * compressed, encrypted or otherwise transformed values, and secrets shorter
 * than `MIN_SECRET_LENGTH`.
 */

/** Shorter strings are not redacted (see `redact.ts`). */
export const MIN_SECRET_LENGTH = 3;

/** Secrets at least this long (UTF-8 bytes) are also found as base64 fragments at line breaks (wrapped base64). */
export const MIN_WRAPPED_SECRET_BYTES = 12;

/** A fragment of a wrapped base64 line shorter than this is not masked (at most this many minus one characters, about 5 bytes, show). */
export const MIN_FRAGMENT_LENGTH = 8;

const toUrlSafe = (b64: string): string => b64.replace(/\+/g, "-").replace(/\//g, "_");

/**
 * The base64 characters that depend only on `secret` when it is encoded after
 * 0, 1 or 2 other bytes (and followed by anything): one string per alignment,
 * without padding. Alignment 0 followed by nothing is the ordinary encoding.
 */
export function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    if (end > start) out.push(encoded.slice(start, end));
  }
  return out;
}

function base64Forms(value: string): string[] {
  const std = Buffer.from(value, "utf8").toString("base64");
  const out = [std, std.replace(/=+$/, "")];
  for (const core of base64Cores(value)) out.push(core);
  return [...out, ...out.map(toUrlSafe)];
}

/** Python's `urllib.parse.quote(value, safe)`: UTF-8 bytes, `A-Za-z0-9_.-~` and `safe` kept, the rest `%XX`. */
export function pythonQuote(value: string, safe = "/"): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(ch) || (byte < 128 && safe.includes(ch)) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function urlForms(value: string): string[] {
  const out: string[] = [];
  try {
    out.push(encodeURIComponent(value));
  } catch {
    // lone surrogates cannot be URL-encoded; nothing to add
  }
  out.push(pythonQuote(value, "/"), pythonQuote(value, " ").replace(/ /g, "+"));
  out.push(new URLSearchParams({ v: value }).toString().slice(2));
  return out;
}

function shellForms(value: string): string[] {
  const quoted = /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
  // bash's `printf %q`: shell metacharacters behind a backslash, `~` at the start or after `=`/`:`, `#` at the start
  // (control characters make it use $'...', not claimed)
  // eslint-disable-next-line no-control-regex -- control characters are what is looked for
  const escaped = /[\x00-\x1f\x7f]/.test(value)
    ? value
    : value
        .replace(/[ \t'"\\|&;()<>!{}*[\]?^$`,]/g, "\\$&")
        .replace(/(^|[=:])~/g, "$1\\~")
        .replace(/^#/, "\\#");
  return [quoted, escaped];
}

/** Every string that must not appear in output for one secret (all of at least `MIN_SECRET_LENGTH`). */
export function expandSecret(secret: string): string[] {
  const out = new Set<string>();
  const add = (value: string): void => {
    if (value.length >= MIN_SECRET_LENGTH) out.add(value);
  };
  const variants = (value: string): void => {
    add(value);
    for (const form of base64Forms(value)) add(form);
    for (const form of urlForms(value)) add(form);
    add(JSON.stringify(value).slice(1, -1));
    for (const form of shellForms(value)) add(form);
  };
  if (secret.length < MIN_SECRET_LENGTH) return [];
  variants(secret);
  if (secret.includes("\n")) {
    for (const raw of secret.split("\n")) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line.trim() !== "") variants(line);
    }
  }
  return [...out];
}

/** The base64 strings a wrapped encoding of `secret` may be cut from (see `fragments.ts`); empty for short secrets. */
export function wrappableForms(secret: string): string[] {
  const values = [secret];
  if (secret.includes("\n")) for (const line of secret.split("\n")) values.push(line.replace(/\r$/, ""));
  const out = new Set<string>();
  for (const value of values) {
    if (Buffer.byteLength(value, "utf8") < MIN_WRAPPED_SECRET_BYTES) continue;
    for (const core of base64Cores(value)) {
      out.add(core);
      out.add(toUrlSafe(core));
    }
  }
  return [...out];
}
