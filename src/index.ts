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
  executors,
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
  ContainerExecutorOptions,
  Defaults,
  EnvProvider,
  ExecutorDef,
  FnStep,
  InputSchema,
  Job,
  JobDef,
  KubernetesExecutorOptions,
  LocalExecutorOptions,
  MatrixDef,
  MatrixValue,
  MatrixValues,
  PredicateCondition,
  RetryPolicy,
  ShFunction,
  ShStep,
  SshExecutorOptions,
  StatusCondition,
  StatusConditionName,
  Step,
  StepFn,
  StepOptions,
  Triggers,
  UsesStep,
  Workflow,
  WorkflowDef,
} from "./core/definition.js";
export { parseDuration, formatDuration } from "./core/duration.js";
export type { Duration, DurationUnit } from "./core/duration.js";
export type { Size, SizeUnit } from "./core/size.js";
export type {
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
export { compileWorkflow } from "./core/plan.js";
export type { CompileOptions } from "./core/plan.js";
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
