/**
 * Collecting plan issues: every check adds to one list so that a workflow's
 * problems are all reported at once, each with its definition path.
 */
import type { PlanIssue } from "./errors.js";

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/** `jobs` + `build` -> `jobs.build`; `jobs` + `my job` -> `jobs["my job"]`; `steps` + 0 -> `steps[0]`. */
export function joinPath(base: string, key: PropertyKey): string {
  if (typeof key === "number") return `${base}[${key}]`;
  const text = typeof key === "symbol" ? key.toString() : key;
  if (IDENTIFIER.test(text)) return base === "" ? text : `${base}.${text}`;
  return `${base}[${JSON.stringify(text)}]`;
}

export function joinPaths(base: string, keys: readonly PropertyKey[]): string {
  return keys.reduce<string>((path, key) => joinPath(path, key), base);
}

/** The issue list of one compilation. Identical issues (same path and message) are kept once. */
export class Issues {
  readonly list: PlanIssue[] = [];
  private readonly seen = new Set<string>();

  constructor(readonly file: string) {}

  add(path: string, message: string): void {
    const key = `${path}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ file: this.file, path, message });
  }

  get count(): number {
    return this.list.length;
  }
}

/** A short, safe description of any value for an error message: `"15 mins"`, `42`, `a function`, `an object`. */
export function describe(value: unknown): string {
  try {
    if (value === undefined) return "undefined";
    if (value === null) return "null";
    if (typeof value === "function") return "a function";
    if (typeof value === "symbol") return "a symbol";
    if (typeof value === "bigint") return `${value.toString()}n`;
    if (Array.isArray(value)) return "an array";
    if (typeof value === "object") return "an object";
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    return "a value that cannot be read";
  }
}

/** The message of anything thrown, without throwing itself. */
export function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message);
    if (typeof error === "string") return error;
    return describe(error);
  } catch {
    return "unknown error";
  }
}
