/**
 * Matrix expansion, as in GitHub Actions: the cartesian product of the axes
 * in declaration order, minus the combinations that match an `exclude`
 * entry, then each `include` entry extends every combination it does not
 * contradict (it may not change an axis value, it may change a value an
 * earlier include added) or, when it extends none, is added as a new
 * combination.
 */
import type { MatrixValue } from "./definition.js";
import { describe, joinPath, type Issues } from "./issues.js";
import { didYouMean } from "./suggest.js";

export type Combination = Readonly<Record<string, MatrixValue>>;

export interface ExpandedMatrix {
  /** Axis names in declaration order, then keys added by `include`, in order of appearance. */
  readonly keys: readonly string[];
  readonly combinations: readonly Combination[];
}

export const DEFAULT_MATRIX_LIMIT = 256;

const AXIS_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function isMatrixValue(value: unknown): value is MatrixValue {
  return typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readEntries(value: unknown, path: string, issues: Issues, axes: readonly string[] | undefined): Combination[] {
  if (!Array.isArray(value)) {
    issues.add(path, `expected an array of objects, got ${describe(value)}`);
    return [];
  }
  const out: Combination[] = [];
  value.forEach((entry: unknown, i) => {
    const at = joinPath(path, i);
    if (!isPlainObject(entry)) return issues.add(at, `expected an object of axis values, got ${describe(entry)}`);
    const keys = Object.keys(entry);
    if (keys.length === 0) return issues.add(at, "an empty entry matches nothing; remove it");
    let ok = true;
    for (const key of keys) {
      const v = entry[key];
      if (!isMatrixValue(v)) {
        issues.add(joinPath(at, key), `matrix values must be strings, numbers or booleans, got ${describe(v)}`);
        ok = false;
      } else if (axes && !axes.includes(key)) {
        issues.add(joinPath(at, key), `unknown axis ${JSON.stringify(key)}${didYouMean(key, axes)}`);
        ok = false;
      } else if (!axes && !AXIS_NAME.test(key)) {
        issues.add(joinPath(at, key), `invalid axis name ${JSON.stringify(key)} (letters, digits, "_" and "-")`);
        ok = false;
      }
    }
    if (ok) out.push({ ...(entry as Combination) });
  });
  return out;
}

const matches = (combo: Combination, entry: Combination, keys: readonly string[]): boolean =>
  keys.every((k) => Object.prototype.hasOwnProperty.call(combo, k) && combo[k] === entry[k]);

/**
 * Validate and expand a matrix definition. Problems are added to `issues`
 * under `path` (e.g. `jobs.test.matrix`); returns `undefined` when the matrix
 * is invalid, expands to zero combinations or to more than `limit`.
 */
export function expandMatrix(def: unknown, path: string, issues: Issues, limit: number = DEFAULT_MATRIX_LIMIT): ExpandedMatrix | undefined {
  if (!isPlainObject(def)) {
    issues.add(path, `a matrix must be an object of axes, got ${describe(def)}`);
    return undefined;
  }
  const before = issues.count;
  const axes: Array<[string, MatrixValue[]]> = [];
  for (const name of Object.keys(def)) {
    if (name === "include" || name === "exclude") continue;
    const at = joinPath(path, name);
    const values = def[name];
    if (!AXIS_NAME.test(name)) issues.add(at, `invalid axis name ${JSON.stringify(name)} (letters, digits, "_" and "-")`);
    if (!Array.isArray(values)) {
      issues.add(at, `an axis must be an array of values, got ${describe(values)}`);
      continue;
    }
    const seen = new Set<MatrixValue>();
    values.forEach((v: unknown, i) => {
      if (!isMatrixValue(v)) issues.add(joinPath(at, i), `matrix values must be strings, numbers or booleans, got ${describe(v)}`);
      else if (seen.has(v)) issues.add(joinPath(at, i), `duplicate value ${describe(v)}`);
      else seen.add(v);
    });
    axes.push([name, [...seen]]);
  }
  const axisNames = axes.map(([name]) => name);
  const exclude = def.exclude === undefined ? [] : readEntries(def.exclude, joinPath(path, "exclude"), issues, axisNames);
  const include = def.include === undefined ? [] : readEntries(def.include, joinPath(path, "include"), issues, undefined);
  if (axes.length === 0 && def.include === undefined) issues.add(path, 'a matrix needs at least one axis, e.g. { node: ["20", "22"] }');
  if (issues.count > before) return undefined;

  const product = axes.reduce((n, [, values]) => n * values.length, 1);
  if (axes.length > 0 && product + include.length > limit * 16 + 1024) {
    issues.add(path, `matrix expands to about ${product} jobs, more than the limit of ${limit} (raise matrixLimit if this is intended)`);
    return undefined;
  }

  let combos: Array<Record<string, MatrixValue>> = axes.length === 0 ? [] : [{}];
  for (const [name, values] of axes) combos = combos.flatMap((combo) => values.map((v) => ({ ...combo, [name]: v })));
  combos = combos.filter((combo) => !exclude.some((entry) => matches(combo, entry, Object.keys(entry))));

  const original = combos.length;
  const added: Array<Record<string, MatrixValue>> = [];
  for (const entry of include) {
    const axisKeys = Object.keys(entry).filter((k) => axisNames.includes(k));
    let extended = false;
    for (let i = 0; i < original; i++) {
      const combo = combos[i];
      if (combo && axes.length > 0 && matches(combo, entry, axisKeys)) {
        combos[i] = { ...combo, ...entry };
        extended = true;
      }
    }
    if (!extended) added.push({ ...entry });
  }
  combos.push(...added);

  const keys = [...axisNames];
  for (const combo of combos) for (const k of Object.keys(combo)) if (!keys.includes(k)) keys.push(k);
  const unique = new Map<string, Combination>();
  for (const combo of combos) {
    const id = formatCombination(combo, keys);
    if (!unique.has(id)) unique.set(id, Object.freeze(orderCombination(combo, keys)));
  }
  if (unique.size === 0) {
    issues.add(path, "matrix expands to zero jobs (every combination is excluded, or an axis has no values)");
    return undefined;
  }
  if (unique.size > limit) {
    issues.add(path, `matrix expands to ${unique.size} jobs, more than the limit of ${limit} (raise matrixLimit if this is intended)`);
    return undefined;
  }
  return { keys, combinations: [...unique.values()] };
}

function orderCombination(combo: Combination, keys: readonly string[]): Record<string, MatrixValue> {
  const out: Record<string, MatrixValue> = {};
  for (const k of keys) {
    const v = combo[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** `node=20, os=bookworm`, keys in `keys` order. */
export function formatCombination(combo: Combination, keys: readonly string[] = Object.keys(combo)): string {
  return keys
    .filter((k) => combo[k] !== undefined)
    .map((k) => `${k}=${String(combo[k])}`)
    .join(", ");
}

/** The job id of one expansion: the key alone without a matrix, else `test (node=20, os=bookworm)`. */
export function jobId(key: string, combo: Combination | undefined, keys?: readonly string[]): string {
  return combo === undefined ? key : `${key} (${formatCombination(combo, keys)})`;
}

/** `MATRIX_NODE=20`: axis names upper-cased, anything but letters, digits and `_` as `_`. */
export function matrixEnv(combo: Combination): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(combo)) env[`MATRIX_${k.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`] = String(v);
  return env;
}
