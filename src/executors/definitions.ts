/**
 * `executors.*`: the definition helpers of the executor kinds Gantry ships,
 * typed by each kind's own options (`<kind>/schema.ts`). Type-only imports:
 * a workflow file that uses them loads no executor code.
 */
import type { ExecutorDef } from "../core/definition.js";
import type { ContainerExecutorOptions } from "./container/schema.js";
import type { LocalExecutorOptions } from "./local/schema.js";
import type { SshExecutorOptions } from "./ssh/schema.js";

export type { ContainerExecutorOptions, LocalExecutorOptions, SshExecutorOptions };

/** A definition with its options type, so helpers keep what the user wrote checkable. */
export interface TypedExecutorDef<K extends string, O extends object> extends ExecutorDef {
  readonly kind: K;
  readonly options: O;
}

/**
 * Options of `executors.kubernetes()`, kept so that existing workflows still
 * type-check; there is no Kubernetes executor yet.
 */
export type KubernetesExecutorOptions = Readonly<Record<string, unknown>>;

export const executors = {
  local: (options: LocalExecutorOptions = {}): TypedExecutorDef<"local", LocalExecutorOptions> => Object.freeze({ kind: "local", options }),
  container: (options: ContainerExecutorOptions): TypedExecutorDef<"container", ContainerExecutorOptions> =>
    Object.freeze({ kind: "container", options }),
  ssh: (options: SshExecutorOptions): TypedExecutorDef<"ssh", SshExecutorOptions> => Object.freeze({ kind: "ssh", options }),
  /**
   * Not available yet: `gantry validate` and `gantry run` refuse a workflow
   * that uses it (exit 2), naming the kinds this Gantry can run.
   * @deprecated There is no Kubernetes executor yet.
   */
  kubernetes: (options: KubernetesExecutorOptions): TypedExecutorDef<"kubernetes", KubernetesExecutorOptions> =>
    Object.freeze({ kind: "kubernetes", options }),
} as const;
