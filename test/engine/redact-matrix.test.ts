/**
 * The redaction matrix of issue 11.9: secrets of every length from 1 to 200,
 * plain and with special characters, in every claimed form, through the
 * whole-text redactor and the streaming line redactor. The encodings come
 * from independent tools where one exists: Python's urllib for `quote` and
 * `quote_plus`, bash for `printf %q` and xtrace quoting.
 *
 * Not claimed (and so not tested as hidden): secrets shorter than 3
 * characters, reversed, character-separated and hex forms (docs/security.md).
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createLineRedactor, Redactor, REDACTED } from "../../src/engine/redact.js";
import { base64Cores } from "../../src/engine/secret-forms.js";

const PLAIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SPECIAL = `'"\\ /+=&%$~!*()#@:,.;|<>?{}[]^\`-_éü€`;

/** A small seeded PRNG, so a failure names a reproducible secret. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeSecret(length: number, special: boolean, rand: () => number): string {
  const chars = special ? PLAIN + SPECIAL : PLAIN;
  let out = "";
  for (let i = 0; i < length; i++) out += chars[Math.floor(rand() * chars.length)];
  if (special) {
    const at = Math.floor(rand() * length);
    out = out.slice(0, at) + SPECIAL[Math.floor(rand() * SPECIAL.length)] + out.slice(at + 1);
  }
  return out;
}

const rand = random(11_9);
const SECRETS: Array<{ secret: string; special: boolean }> = [];
for (let length = 1; length <= 200; length++) {
  SECRETS.push({ secret: makeSecret(length, false, rand), special: false });
  SECRETS.push({ secret: makeSecret(length, true, rand), special: true });
}

/** Python's quote and quote_plus of every secret, from Python itself. */
function pythonOracle(secrets: readonly string[]): Array<[string, string]> {
  const script =
    "import json,sys\nfrom urllib.parse import quote, quote_plus\nprint(json.dumps([[quote(s), quote_plus(s)] for s in json.load(sys.stdin)]))";
  return JSON.parse(execFileSync("python3", ["-c", script], { input: JSON.stringify(secrets), encoding: "utf8" })) as Array<
    [string, string]
  >;
}

/** bash's `printf %q` and xtrace quoting of every secret, from bash itself. */
function bashOracle(secrets: readonly string[]): Array<[string, string]> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" };
  const q = execFileSync("bash", ["-c", `for s in "$@"; do printf '%q\\0' "$s"; done`, "_", ...secrets], { encoding: "utf8", env });
  const trace = execFileSync("bash", ["-c", `set -x; for s in "$@"; do : "$s"; done 2>&1`, "_", ...secrets], {
    encoding: "utf8",
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // stderr of the loop goes to stdout; the `for` line itself is traced too
  const traced = execFileSync("bash", ["-c", `exec 2>&1; set -x; for s in "$@"; do : "$s"; done`, "_", ...secrets], {
    encoding: "utf8",
    env,
  });
  void trace;
  const xtrace = traced
    .split(/\n(?=\+ : )/)
    .filter((l) => l.startsWith("+ : "))
    .map((l) => l.slice(4).replace(/\n$/, ""));
  return q
    .split("\0")
    .slice(0, -1)
    .map((v, i) => [v, xtrace[i] ?? ""]);
}

function streamed(redactor: Redactor, text: string, rand: () => number): string[] {
  const lines: string[] = [];
  const stream = createLineRedactor(redactor, (block) => lines.push(...block));
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(rand() * 7);
    stream.write(bytes.subarray(i, i + n));
    i += n;
  }
  stream.end();
  return lines;
}

/** True when `text` holds a piece of `form` at least `min` characters long. */
function holdsPiece(text: string, form: string, min: number): boolean {
  if (form.length < min) return false;
  for (let i = 0; i + min <= form.length; i++) if (text.includes(form.slice(i, i + min))) return true;
  return false;
}

const randomBytes = (n: number, r: () => number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));

describe("redaction matrix: lengths 1-200, plain and special characters", () => {
  const python = pythonOracle(SECRETS.map((s) => s.secret));
  const bash = bashOracle(SECRETS.map((s) => s.secret));

  it("hides every claimed form of every secret of 3 characters or more", () => {
    const r = random(42);
    const failures: string[] = [];
    SECRETS.forEach(({ secret, special }, index) => {
      const redactor = new Redactor([secret]);
      const label = `secret #${index} (${secret.length} chars, ${special ? "special" : "plain"}) ${JSON.stringify(secret)}`;
      const claimed = secret.length >= 3;
      const hide = (form: string, name: string, text = `before ${form} after`): void => {
        const whole = redactor.redact(text);
        const lines = streamed(redactor, `${text}\n`, r).join("\n");
        if (!claimed) {
          if (whole !== text) failures.push(`${label}: ${name}: a secret shorter than 3 characters changed the output`);
          return;
        }
        if (form.length < 3) return;
        if (whole.includes(form) || !whole.includes(REDACTED)) failures.push(`${label}: ${name}: shown by redact(): ${whole}`);
        if (lines.includes(form)) failures.push(`${label}: ${name}: shown by the line redactor: ${lines}`);
      };
      const [quote, quotePlus] = python[index]!;
      const [percentQ, xtrace] = bash[index]!;
      hide(secret, "raw");
      hide(encodeURIComponent(secret), "encodeURIComponent");
      hide(quote, "python quote");
      hide(quotePlus, "python quote_plus");
      hide(JSON.stringify(secret).slice(1, -1), "JSON-escaped", `{"token":${JSON.stringify(secret)}}`);
      hide(percentQ, "printf %q");
      hide(xtrace, "xtrace quoting", `+ curl -H ${xtrace}`);
      const cores = base64Cores(secret);
      for (let offset = 0; offset < 3; offset++) {
        const text = Buffer.concat([randomBytes(offset, r), Buffer.from(secret), randomBytes(Math.floor(r() * 3), r)]).toString("base64");
        const core = cores[offset] ?? "";
        if (!claimed) continue;
        const shown = redactor.redact(text);
        if (core.length >= 3 && shown.includes(core)) failures.push(`${label}: base64 at alignment ${offset}: ${shown}`);
        const urlSafe = redactor.redact(text.replace(/\+/g, "-").replace(/\//g, "_"));
        const urlCore = core.replace(/\+/g, "-").replace(/\//g, "_");
        if (urlCore.length >= 3 && urlSafe.includes(urlCore)) failures.push(`${label}: url-safe base64 at alignment ${offset}: ${urlSafe}`);
      }
      if (claimed) {
        const basic = `Authorization: Basic ${Buffer.from(`deploy-user:${secret}`).toString("base64")}`;
        const shown = redactor.redact(basic);
        const core = cores[Buffer.byteLength("deploy-user:") % 3] ?? "";
        if (core.length >= 3 && shown.includes(core)) failures.push(`${label}: basic auth: ${shown}`);
      }
      for (const width of [64, 76]) {
        if (!claimed) continue;
        const prefix = randomBytes(Math.floor(r() * 90), r);
        const encoded = Buffer.concat([prefix, Buffer.from(secret), randomBytes(Math.floor(r() * 40), r)]).toString("base64");
        const wrapped = encoded.match(new RegExp(`.{1,${width}}`, "g"))!.join("\n");
        const core = cores[prefix.length % 3] ?? "";
        const lines = streamed(redactor, `${wrapped}\n`, r);
        const long = Buffer.byteLength(secret) >= 12;
        for (const line of lines) {
          // long secrets: no piece of 8 characters or more on any line; short ones: never whole on a line
          if (long ? holdsPiece(line, core, 8) : core.length >= 3 && line.includes(core)) {
            failures.push(`${label}: base64 wrapped at ${width}: line ${JSON.stringify(line)} of\n${wrapped}`);
          }
        }
      }
    });
    expect(failures.slice(0, 10)).toEqual([]);
  });

  it("the oracles agree with the forms they stand for (so the matrix tests what it says)", () => {
    const i = SECRETS.findIndex((s) => s.secret.includes(" ") && s.secret.includes("/"));
    expect(i).toBeGreaterThanOrEqual(0);
    const [quote, quotePlus] = python[i]!;
    expect(quote).toContain("/");
    expect(quotePlus).toContain("+");
    expect(quotePlus).not.toContain("/");
    expect(bash.every(([q, x]) => q !== "" && x !== "")).toBe(true);
  });

  it("what is not claimed stays visible: reversed, character-separated and hex forms", () => {
    const secret = "a-long-enough-secret-value";
    const redactor = new Redactor([secret]);
    const reversed = [...secret].reverse().join("");
    const spaced = [...secret].join(" ");
    const hex = Buffer.from(secret).toString("hex");
    expect(redactor.redact(`${reversed} ${spaced} ${hex}`)).toBe(`${reversed} ${spaced} ${hex}`);
  });
});
