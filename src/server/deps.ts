/**
 * What `createApp` is given: everything with I/O is passed in, so the app
 * can be tested with `app.request()` on a real store and no port.
 */
import type { Logger } from "pino";
import type { Orchestrator, RunEvents } from "../queue/api.js";
import type { Store } from "../store/store.js";
import type { ServerMetrics } from "./metrics.js";
import type { RepoRegistry } from "./git/repos.js";
import type { HookDeps } from "./hooks/receive.js";

export interface AppDeps {
  readonly store: Store;
  readonly repos: RepoRegistry;
  /** The server's data dir: bundles are materialised under it. */
  readonly stateDir: string;
  readonly metrics: ServerMetrics;
  readonly orchestrator: Orchestrator;
  readonly events: RunEvents;
  /** SSE comment ping interval (default 15 s). */
  readonly ssePingMs?: number;
  readonly logger?: Logger;
  /** `GET /metrics` without a token (`--metrics-public`). */
  readonly metricsPublic?: boolean;
  /** Origins allowed by CORS; none (the default) = no CORS headers at all. */
  readonly corsOrigins?: readonly string[];
  /** Largest request body in bytes (default 1 MiB). */
  readonly bodyLimitBytes?: number;
  readonly now?: () => number;
  /** Webhook secrets and the processor's wake-up; none = every webhook is refused (401). */
  readonly hooks?: HookDeps;
}
