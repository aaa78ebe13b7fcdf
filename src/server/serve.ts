/**
 * `gantry server` composed: open the store (SQLite in the data dir, or
 * PostgreSQL with `GANTRY_DATABASE_URL`), print a one-time admin token on the
 * first start, start the reaper and the embedded workers, build the app and
 * listen. `stop()`: the workers stop claiming and running jobs may finish for
 * `drainTimeoutMs` (the API keeps answering meanwhile), then they are
 * cancelled as a user cancel would; then the listener closes (in-flight
 * requests finish), the reaper stops and the store closes. `stop({ force })`
 * (a second signal) cancels running jobs at once.
 */
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import type { Logger } from "pino";
import { GantryError } from "../core/errors.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import { createApp } from "./app.js";
import { createToken } from "./auth.js";
import { RepoRegistry, type RepoSpec } from "./git/repos.js";
import { ServerMetrics } from "./metrics.js";
import { createOrchestrator } from "./orchestrator.js";
import { createRunEvents } from "./run-events.js";
import { startReaper } from "./reaper.js";
import { startWorkers, type Workers } from "./workers.js";
import { createStoreSource } from "../queue/store-source.js";
import type { HookSettings } from "./hooks/config.js";
import { startHookProcessor } from "./hooks/processor.js";
import { startStatusReporter } from "./hooks/status.js";

export interface ServerOptions {
  /** `HOST:PORT` (port 0 picks a free one). */
  readonly listen: string;
  readonly dataDir: string;
  readonly repos: readonly RepoSpec[];
  readonly workers: number;
  readonly drainTimeoutMs: number;
  readonly metricsPublic: boolean;
  readonly corsOrigins: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Webhook secrets and commit-status tokens by repository (none: every webhook is refused). */
  readonly hooks?: HookSettings;
  /** Process stored webhook deliveries in this process (default true; false: receive only). */
  readonly processHooks?: boolean;
  /** Where the first start's admin token is printed (once). */
  readonly printToken: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly store: Store;
  /** Stop taking requests and close the store; `force` does not wait for in-flight requests. */
  stop(options?: { force?: boolean }): Promise<void>;
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new GantryError("USAGE", `--listen ${value}: expected HOST:PORT, like 127.0.0.1:8080 or 0.0.0.0:80`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ""), port };
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(options.listen);
  const store = await openStore({ repoDir: options.dataDir, stateDir: options.dataDir, env: options.env });
  try {
    if ((await store.tokens.count()) === 0) {
      const { token } = await createToken(store, { role: "admin", name: "first-admin", actor: "server" });
      options.printToken(
        `gantry server: this store had no API token; an admin token was created and is shown ONLY NOW:\n\n  ${token}\n\nKeep it (gantry login URL --token TOKEN); make others with: gantry server token create --role viewer --name NAME\n`,
      );
    }
    const metrics = new ServerMetrics({ defaults: true });
    const orchestrator = createOrchestrator(store);
    metrics.setSources({ counts: () => store.counts(), queue: async () => ({ ...(await orchestrator.queue()).counts }) });
    const log = (what: string) => (error: Error) => options.logger.error({ err: error }, what);
    const reaper = startReaper(store, {
      onError: log("reaper sweep failed"),
      onSweep: (r) => {
        metrics.leaseExpiries.inc(r.requeued.length + r.failed.length + r.quarantined.length);
        options.logger.warn({ requeued: r.requeued, failed: r.failed, quarantined: r.quarantined }, "expired leases reaped");
      },
    });
    const workers: Workers | undefined =
      options.workers > 0
        ? startWorkers({
            source: createStoreSource(store),
            count: options.workers,
            id: `${hostname()}:${process.pid}`,
            dataDir: join(options.dataDir, "work"),
            processEnv: options.env,
            onError: (error, item) => options.logger.error({ err: error, run: item?.lease.runId, job: item?.lease.jobId }, "worker error"),
          })
        : undefined;
    const repos = new RepoRegistry(options.repos, options.dataDir, store);
    const hookSettings: HookSettings = options.hooks ?? new Map();
    const processor =
      options.processHooks === false
        ? undefined
        : startHookProcessor({
            store,
            repos,
            orchestrator,
            settings: hookSettings,
            stateDir: options.dataDir,
            holder: `${hostname()}:${process.pid}`,
            onError: (error, d) => options.logger.warn({ err: error, delivery: d?.id, repo: d?.repo }, "webhook delivery failed"),
            onProcessed: (d, r) => options.logger.info({ delivery: d.id, repo: d.repo, runs: r.runs.map((x) => x.id) }, r.message),
          });
    const statuses = startStatusReporter({
      store,
      settings: hookSettings,
      onError: (error) => options.logger.warn({ err: error }, "commit status not posted (will retry)"),
    });
    const app = createApp({
      store,
      repos,
      metrics,
      orchestrator,
      events: createRunEvents(store),
      stateDir: options.dataDir,
      logger: options.logger,
      metricsPublic: options.metricsPublic,
      corsOrigins: options.corsOrigins,
      hooks: { settings: hookSettings, onDelivery: () => processor?.wake() },
    });
    const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
      s.once("error", (error: NodeJS.ErrnoException) =>
        reject(
          new GantryError(
            "USAGE",
            error.code === "EADDRINUSE"
              ? `--listen ${options.listen}: the address is in use; stop what listens there or choose another port`
              : `--listen ${options.listen}: ${error.message}`,
          ),
        ),
      );
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const url = `http://${shown}:${address.port}`;
    options.logger.info({ url, store: store.location, repos: options.repos.map((r) => r.name), workers: options.workers }, "listening");
    let stopped: Promise<void> | undefined;
    return {
      url,
      store,
      stop(stopOptions = {}) {
        if (stopOptions.force) {
          void workers?.stop({ drainMs: 0 });
          if ("closeAllConnections" in server) server.closeAllConnections();
        }
        stopped ??= (async () => {
          if (workers) {
            options.logger.info({ running: workers.running(), drainTimeoutMs: options.drainTimeoutMs }, "draining workers");
            await workers.stop({ drainMs: stopOptions.force ? 0 : options.drainTimeoutMs });
          }
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            if ("closeIdleConnections" in server) server.closeIdleConnections();
            // Streams that do not end by themselves (events of a run still queued) are cut after a grace period.
            if ("closeAllConnections" in server) setTimeout(() => server.closeAllConnections(), 5000).unref();
          });
          await processor?.stop();
          await statuses.stop();
          await reaper.stop();
          await store.close();
          options.logger.info("stopped");
        })();
        return stopped;
      },
    };
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}
