/**
 * Executor kinds as plug-ins. Each kind (`local`, `container`, `ssh`, and
 * any one you add) is one `ExecutorDescriptor` in its own folder under
 * `src/executors/`: its name, the zod schema of its options, how to build an
 * executor for a plan entry, and an optional probe saying whether it can run
 * on this machine.
 *
 * The core never imports an executor: the compiler (`compileWorkflow`) is
 * given the kinds it may accept (`CompileOptions.executors`) and validates
 * each `{ kind, options }` against the schema registered for that kind; the
 * CLI, the server and the agent build executors through the same table.
 */
import type { z } from "zod";
import type { ContainerRuntime } from "./ephemeral.js";
import { GantryError } from "./errors.js";
import { joinPaths } from "./issues.js";
import { errorMap } from "./schemas.js";
import type { Executor } from "./executor.js";
import type { PlanExecutor } from "./plan-types.js";

/** What the front end hands every executor it builds (the same for every kind). */
export interface ExecutorDeps {
  /**
   * Starts ephemeral containers (`ctx.container`, `sh` steps with `container:`)
   * for executors whose jobs live on the runner's disk. Lazy: finds an engine
   * only when a step first asks.
   */
  readonly containers?: ContainerRuntime;
}

/** What the plan compiler needs of a kind: pure, light (a workflow file's process loads it). */
export interface ExecutorKindSchema<Options extends object = object> {
  /** The `kind` of `{ kind, options }` definitions (`executors.<kind>(options)`). */
  readonly kind: string;
  /** Validates the options of a definition; its messages name the field. The compiler stores the parsed value in the plan. */
  readonly optionsSchema: z.ZodType<Options>;
  /**
   * The executor's name when its options give none (`options.name`). Default
   * `<kind>-<first 8 hex of hash>`; the local executor answers `local`.
   */
  defaultName?(hash: string): string;
  /**
   * Declared capability: whether jobs on such an executor get a copy of the
   * repository (then the repository's files are inputs of a `cache: true`
   * job). Stored in the plan as `PlanExecutor.copiesRepo`.
   */
  copiesRepo(options: Options): boolean;
}

/** A kind of executor: its schema part plus how to build one and whether it can run here. */
export interface ExecutorDescriptor<Options extends object = object> extends ExecutorKindSchema<Options> {
  /** Build an executor for a plan entry of this kind. Must not do I/O: setup happens in `setupWorkspace`. */
  create(def: PlanExecutor, deps: ExecutorDeps): Executor;
  /**
   * Optional: whether an executor of this definition can run on this machine.
   * Resolves `undefined` when it can, else one sentence saying why not and
   * what to do. Cheap (seconds at most); called by `gantry validate` and
   * before `gantry run` starts, for the executors the selected jobs use.
   */
  probe?(def: PlanExecutor): Promise<string | undefined>;
}

/** The executor kinds a plan may use, by kind (what `compileWorkflow` needs). */
export type ExecutorKinds = ReadonlyMap<string, ExecutorKindSchema>;
/** The executor kinds a front end can build, by kind. */
export type ExecutorDescriptors = ReadonlyMap<string, ExecutorDescriptor>;

/** Index kinds by name; a kind given twice is a programming error. */
export function executorKinds<D extends ExecutorKindSchema>(descriptors: readonly D[]): ReadonlyMap<string, D> {
  const kinds = new Map<string, D>();
  for (const d of descriptors) {
    if (kinds.has(d.kind)) throw new Error(`executor kind "${d.kind}" is registered twice`);
    kinds.set(d.kind, d);
  }
  return kinds;
}

/** Declare a kind's schema part with typed options; widened for tables (each kind's options are checked by its own schema first). */
export function defineExecutorKindSchema<Options extends object>(schema: ExecutorKindSchema<Options>): ExecutorKindSchema {
  return schema;
}

/** Declare a descriptor with typed options; widened for tables. */
export function defineExecutorKind<Options extends object>(descriptor: ExecutorDescriptor<Options>): ExecutorDescriptor {
  return descriptor;
}

/**
 * The typed options of a plan entry, parsed once by the kind's schema (a
 * plan may come from a stored run, so it is checked again, not trusted).
 * Throws a `PLAN_INVALID` `GantryError` naming the executor and the field.
 */
export function parseExecutorOptions<Options>(schema: z.ZodType<Options>, def: Pick<PlanExecutor, "name" | "kind" | "options">): Options {
  const result = schema.safeParse(def.options, { error: errorMap });
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const field = first && first.path.length > 0 ? `${joinPaths("", first.path)}: ` : "";
  throw new GantryError("PLAN_INVALID", `${def.kind} executor "${def.name}": ${field}${first?.message ?? "invalid options"}`);
}
