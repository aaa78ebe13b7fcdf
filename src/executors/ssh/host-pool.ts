/**
 * The hosts of one SSH executor: their shared connections, how many jobs
 * each runs, and (in pool mode) their health. Host choice is `pickHost`;
 * this file holds the state and the waiting.
 */
import { GantryError, coerceError } from "../../core/errors.js";
import type { SshConnection } from "./connection.js";
import type { HostTarget, SshMode } from "./options.js";
import { pickHost, unhealthyBackoffMs } from "./pool.js";
import type { HostHealth } from "./pool.js";

export interface HostState {
  readonly target: HostTarget;
  running: number;
  failures: number;
  health?: HostHealth;
  conn?: Promise<SshConnection>;
}

export interface HostPoolOptions {
  readonly executorName: string;
  readonly mode: SshMode;
  readonly maxJobsPerHost?: number;
  readonly connect: (target: HostTarget) => Promise<SshConnection>;
  readonly now: () => number;
}

export class HostPool {
  readonly hosts: ReadonlyMap<string, HostState>;
  private readonly waiters = new Set<() => void>();
  private closing = false;

  constructor(
    targets: readonly HostTarget[],
    private readonly options: HostPoolOptions,
  ) {
    this.hosts = new Map(targets.map((target) => [target.label, { target, running: 0, failures: 0 }]));
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Until a job is released or a host's health changes, or until `until` (epoch ms), or the signal fires. */
  private waitForChange(signal: AbortSignal, until?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = until === undefined ? undefined : setTimeout(() => wake(), Math.max(0, until - this.options.now()));
      const wake = (): void => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(wake);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      this.waiters.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }

  /** Choose a host for a job and count the job on it (until `release`). Probes hosts of unknown health in pool mode. */
  async acquire(signal: AbortSignal): Promise<HostState> {
    const labels = [...this.hosts.keys()];
    for (;;) {
      if (signal.aborted) throw new GantryError("CANCELLED", "cancelled while waiting for an ssh host");
      const load = new Map(labels.map((l) => [l, this.hosts.get(l)?.running ?? 0]));
      const health = new Map<string, HostHealth>();
      if (this.options.mode === "pool") for (const [l, h] of this.hosts) if (h.health) health.set(l, h.health);
      const pick = pickHost(labels, load, health, {
        now: this.options.now(),
        ...(this.options.maxJobsPerHost !== undefined && { maxJobsPerHost: this.options.maxJobsPerHost }),
      });
      if (pick.kind === "wait") {
        // A host skipped as unhealthy may be tried again before any job here ends.
        await this.waitForChange(signal, pick.retryAt);
        continue;
      }
      if (pick.kind === "down") {
        const reasons = [...this.hosts.values()].map((h) => `${h.target.label}: ${h.health?.reason ?? "unavailable"}`);
        throw new GantryError("EXECUTOR_FAILED", `ssh executor "${this.options.executorName}": no healthy host (${reasons.join("; ")})`, {
          retryable: true,
        });
      }
      const host = this.hosts.get(pick.host)!;
      host.running++;
      if (pick.probe && this.options.mode === "pool") {
        try {
          await this.probe(host);
        } catch (error) {
          host.running--;
          this.markUnhealthy(host, error);
          continue;
        }
      }
      return host;
    }
  }

  release(host: HostState): void {
    host.running = Math.max(0, host.running - 1);
    this.notify();
  }

  /** The health check: connect (or reuse the connection) and run `true`. */
  private async probe(host: HostState): Promise<void> {
    const conn = await this.shared(host);
    const result = await conn.run("true");
    if (result.code !== 0)
      throw new GantryError(
        "EXECUTOR_FAILED",
        `ssh host ${host.target.label}: the health check \`true\` exited with ${result.code ?? result.signal}`,
        { retryable: true },
      );
    host.failures = 0;
    host.health = { healthy: true };
  }

  markUnhealthy(host: HostState, error: unknown): void {
    if (this.options.mode !== "pool") return;
    host.failures++;
    const reason = coerceError(error)
      .message.replace(/^ssh host [^:]*: /, "")
      .replace(/\.$/, "");
    host.health = { healthy: false, retryAt: this.options.now() + unhealthyBackoffMs(host.failures), reason };
    this.notify();
  }

  /** Whether the host is known to be down (pool mode); cleanup skips such hosts rather than wait for a timeout. */
  isDown(host: HostState): boolean {
    return host.health?.healthy === false;
  }

  /** The host's shared connection, connecting (again) when there is none or it was lost. */
  async shared(host: HostState): Promise<SshConnection> {
    if (this.closing) throw new GantryError("EXECUTOR_FAILED", `ssh executor "${this.options.executorName}" is shutting down`);
    const current = host.conn;
    if (current) {
      const conn = await current.catch(() => undefined);
      if (conn && !conn.closed) return conn;
      if (host.conn === current) host.conn = undefined;
    }
    if (!host.conn) {
      const connecting = this.options.connect(host.target);
      host.conn = connecting;
      connecting.then(
        (conn) => {
          conn.onClose((error) => {
            if (host.conn === connecting) host.conn = undefined;
            if (!this.closing && !conn.closedByUs) this.markUnhealthy(host, error);
          });
        },
        () => {
          if (host.conn === connecting) host.conn = undefined;
        },
      );
    }
    return host.conn;
  }

  /** Close every shared connection. The pool can be used again afterwards. */
  async closeAll(): Promise<void> {
    this.closing = true;
    try {
      for (const host of this.hosts.values()) {
        const pending = host.conn;
        host.conn = undefined;
        const conn = await pending?.catch(() => undefined);
        conn?.close();
      }
    } finally {
      this.closing = false;
    }
  }
}
