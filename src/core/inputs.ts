/**
 * Typed workflow inputs (`workflow({ inputs: z.object({...}) })`): the JSON
 * schema that describes them (for forms and the API), the coercion of the
 * strings a command line gives (`--input key=value`), their validation with
 * the workflow's own schema, and the `GANTRY_INPUT_<NAME>` variables shell
 * steps read. Pure: the plan compiler calls it with the values of a run.
 *
 * Coercion rule (the same for `gantry run --input`, `gantry trigger --input`
 * and the API): a value given as a STRING for an input whose JSON schema does
 * not accept strings is converted by that schema's type: `integer`/`number`
 * from a decimal number (`"3"`, `"-1.5"`), `boolean` from `true`/`false`,
 * `array`/`object`/`null` from JSON text. Anything else is left as given and
 * the schema reports it. Inputs that accept strings are never converted, and
 * values already typed (JSON numbers, booleans) are never touched.
 */
import { z } from "zod";
import { describe, joinPath, joinPaths, messageOf, type Issues } from "./issues.js";
import { jsonProblem } from "./plan-steps.js";
import { errorMap } from "./schemas.js";
import { didYouMean } from "./suggest.js";

/** The JSON schema (draft 2020-12) of a workflow's inputs: an object schema. */
export type InputsJsonSchema = Readonly<Record<string, unknown>> & {
  readonly properties?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly required?: readonly string[];
};

type SafeParse = (
  value: unknown,
  params?: unknown,
) => { success: true; data: unknown } | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The JSON schema of an inputs schema (zod 4's `toJSONSchema`, input side:
 * defaults are optional), or an issue at `inputs` when it is not a zod object
 * schema.
 */
export function describeInputs(schema: unknown, issues: Issues): InputsJsonSchema | undefined {
  if (!isObject(schema) || typeof schema.safeParse !== "function") {
    issues.add("inputs", `expected a zod object schema (z.object({ ... })), got ${describe(schema)}`);
    return undefined;
  }
  let json: unknown;
  try {
    json = z.toJSONSchema(schema as unknown as z.ZodType, { io: "input", unrepresentable: "any" });
  } catch (error) {
    issues.add("inputs", `the inputs schema cannot be described as JSON schema: ${messageOf(error)}`);
    return undefined;
  }
  if (!isObject(json) || json.type !== "object" || !isObject(json.properties)) {
    issues.add("inputs", "expected a zod object schema (z.object({ ... })) whose keys are the inputs");
    return undefined;
  }
  const env = new Map<string, string>();
  for (const name of Object.keys(json.properties)) {
    const variable = inputEnvName(name);
    const other = env.get(variable);
    if (other !== undefined) issues.add(joinPath("inputs", name), `inputs "${other}" and "${name}" both give ${variable}; rename one`);
    env.set(variable, name);
  }
  const { $schema: _schema, ...rest } = json;
  return rest;
}

/** The JSON types a property schema accepts (`type`, `enum`, `const`, `anyOf`/`oneOf`); empty when it does not say. */
function acceptedTypes(schema: unknown, out = new Set<string>()): Set<string> {
  if (!isObject(schema)) return out;
  const type = schema.type;
  if (typeof type === "string") out.add(type);
  if (Array.isArray(type)) for (const t of type) if (typeof t === "string") out.add(t);
  const values = Array.isArray(schema.enum) ? schema.enum : "const" in schema ? [schema.const] : [];
  for (const v of values) out.add(v === null ? "null" : typeof v);
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const list = schema[key];
    if (Array.isArray(list)) for (const inner of list) acceptedTypes(inner, out);
  }
  return out;
}

const NUMBER = /^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/** One string value converted by the type its property schema accepts (see the rule at the top). */
export function coerceInput(property: unknown, value: string): unknown {
  const types = acceptedTypes(property);
  if (types.size === 0 || types.has("string")) return value;
  if ((types.has("number") || types.has("integer")) && NUMBER.test(value)) return Number(value);
  if (types.has("boolean") && (value === "true" || value === "false")) return value === "true";
  if (types.has("array") || types.has("object") || types.has("null")) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * The values of a run: `given` checked against the declared names (an
 * unknown name is an issue naming it), strings coerced, then parsed by the
 * workflow's schema (defaults applied). Issues are at `inputs.<name>`.
 * Returns the parsed values (plain JSON data), or undefined after issues.
 */
export function parseInputs(
  schema: unknown,
  json: InputsJsonSchema,
  given: Readonly<Record<string, unknown>>,
  issues: Issues,
): Record<string, unknown> | undefined {
  const properties = json.properties ?? {};
  const names = Object.keys(properties);
  const before = issues.count;
  const raw: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(given)) {
    if (!(name in properties)) {
      const known = names.length > 0 ? `inputs: ${names.join(", ")}` : "the workflow declares none";
      issues.add(joinPath("inputs", name), `unknown input "${name}"${didYouMean(name, names)} (${known})`);
      continue;
    }
    raw[name] = typeof value === "string" ? coerceInput(properties[name], value) : value;
  }
  if (issues.count > before) return undefined;
  let result: ReturnType<SafeParse>;
  try {
    result = (schema as { safeParse: SafeParse }).safeParse(raw, { error: errorMap });
  } catch (error) {
    issues.add("inputs", `the inputs schema threw: ${messageOf(error)}`);
    return undefined;
  }
  if (!result.success) {
    for (const issue of result.error.issues) {
      const missing = issue.path.length === 1 && raw[issue.path[0] as string] === undefined;
      issues.add(joinPaths("inputs", issue.path), missing ? "required, but missing" : issue.message);
    }
    return undefined;
  }
  if (!isObject(result.data)) {
    issues.add("inputs", `the inputs schema gave ${describe(result.data)}, not an object`);
    return undefined;
  }
  const problem = jsonProblem(result.data);
  if (problem) {
    issues.add("inputs", `the parsed inputs must be plain JSON data: ${problem}`);
    return undefined;
  }
  return result.data;
}

/** `dry-run` -> `GANTRY_INPUT_DRY_RUN`, `target` -> `GANTRY_INPUT_TARGET` (upper case, other characters `_`). */
export function inputEnvName(name: string): string {
  return `GANTRY_INPUT_${name.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

/** The variables shell steps read: strings as they are, other values as JSON (`true`, `3`, `["a"]`). */
export function inputEnv(values: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out[inputEnvName(name)] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

const frozen = new WeakMap<object, Readonly<Record<string, unknown>>>();

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** `ctx.inputs` of a run: the plan's parsed inputs (a frozen copy), `{}` when it has none. */
export function runInputs(plan: { readonly inputs?: Readonly<Record<string, unknown>> }): Readonly<Record<string, unknown>> {
  let out = frozen.get(plan);
  if (!out) {
    out = deepFreeze(structuredClone(plan.inputs ?? {}));
    frozen.set(plan, out);
  }
  return out;
}
