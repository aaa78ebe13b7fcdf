/**
 * `gantry`: the definition API and the types users need. Named exports only.
 */
export {
  workflow,
  job,
  sh,
  step,
  uses,
  defineAction,
  env,
  success,
  failure,
  always,
  cancelled,
  shellQuote,
  hashFiles,
} from "./core/definition.js";
export type {
  Action,
  ArtifactMap,
  Backoff,
  CacheDef,
  CacheKeyPart,
  HashFiles,
  Condition,
  Defaults,
  EnvProvider,
  ExecutorDef,
  FnStep,
  InputSchema,
  Job,
  JobDef,
  MatrixDef,
  MatrixValue,
  MatrixValues,
  PredicateCondition,
  RetryPolicy,
  ShFunction,
  ShStep,
  StatusCondition,
  StatusConditionName,
  Step,
  StepFn,
  StepOptions,
  PullRequestTrigger,
  PushTrigger,
  Triggers,
  UsesStep,
  Workflow,
  WorkflowDef,
} from "./core/definition.js";
export { executors } from "./executors/definitions.js";
export type {
  ContainerExecutorOptions,
  KubernetesExecutorOptions,
  LocalExecutorOptions,
  SshExecutorOptions,
  TypedExecutorDef,
} from "./executors/definitions.js";
export { defineExecutorKind, defineExecutorKindSchema, executorKinds, parseExecutorOptions } from "./core/executor-kind.js";
export type { ExecutorDeps, ExecutorDescriptor, ExecutorDescriptors, ExecutorKindSchema, ExecutorKinds } from "./core/executor-kind.js";
export { parseDuration, formatDuration } from "./core/duration.js";
export type { Duration, DurationUnit } from "./core/duration.js";
export type { Size, SizeUnit } from "./core/size.js";
export type {
  AnyInputs,
  ConditionContext,
  ContainerHandle,
  ExecOptions,
  JailedFs,
  JobStatus,
  NeedResult,
  RunStatus,
  ShResult,
  StepContext,
  StepLogger,
  StepStatus,
} from "./core/context.js";
/** zod, for `workflow({ inputs: z.object({ ... }) })` without installing it (the same copy Gantry reads the schema with). */
export { z } from "zod";
export { compileWorkflow } from "./compile.js";
export type { CompileOptions } from "./compile.js";
export { nextDelay } from "./core/retry.js";
export { evaluateStatusCondition } from "./core/conditions.js";
export type { StatusConditionInput } from "./core/conditions.js";
export { PLAN_VERSION } from "./core/plan-types.js";
export type {
  Plan,
  PlanArtifactInput,
  PlanCondition,
  PlanEnvProvider,
  PlanExecutor,
  PlanJob,
  PlanRetry,
  PlanStep,
} from "./core/plan-types.js";
export { GantryError, PlanError } from "./core/errors.js";
export type { ErrorCode, PlanIssue } from "./core/errors.js";
export type { ExecIO, ExecRequest, ExecResult, Executor, ExecutorFactory, JobInfo, WorkspaceInfo } from "./core/executor.js";
export type { EventName, GantryEvent, GantryEvents, Listener, LogStream } from "./core/events.js";
