/**
 * Prometheus metrics of one server process (prom-client, own registry so
 * several apps can live in one test process): HTTP request durations by
 * route, and gauges read from the store and the queue when scraped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface MetricsSources {
  /** Runs and jobs by status. */
  counts?(): Promise<{ runs: Record<string, number>; jobs: Record<string, number> }>;
  /** Queue entries by state (available, claimed, quarantined, ...). */
  queue?(): Promise<Record<string, number>>;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly jobDuration: Histogram<"status">;
  readonly queueWait: Histogram;
  readonly leaseExpiries: Counter;
  private sources: MetricsSources = {};

  constructor(options: { defaults?: boolean } = {}) {
    if (options.defaults) collectDefaultMetrics({ register: this.registry, prefix: "gantry_process_" });
    this.httpDuration = new Histogram({
      name: "gantry_http_request_duration_seconds",
      help: "HTTP request durations by route pattern",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
    this.jobDuration = new Histogram({
      name: "gantry_job_duration_seconds",
      help: "Durations of finished jobs by status",
      labelNames: ["status"],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [this.registry],
    });
    this.queueWait = new Histogram({
      name: "gantry_queue_wait_seconds",
      help: "Time from a job being queued to being claimed",
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
      registers: [this.registry],
    });
    this.leaseExpiries = new Counter({
      name: "gantry_lease_expiries_total",
      help: "Job leases that expired and were reaped",
      registers: [this.registry],
    });
    const sources = (): MetricsSources => this.sources;
    new Gauge({
      name: "gantry_runs",
      help: "Runs by status",
      labelNames: ["status"],
      registers: [this.registry],
      async collect() {
        const counts = await sources().counts?.();
        this.reset();
        for (const [status, n] of Object.entries(counts?.runs ?? {})) this.set({ status }, n);
      },
    });
    new Gauge({
      name: "gantry_jobs",
      help: "Jobs by status",
      labelNames: ["status"],
      registers: [this.registry],
      async collect() {
        const counts = await sources().counts?.();
        this.reset();
        for (const [status, n] of Object.entries(counts?.jobs ?? {})) this.set({ status }, n);
      },
    });
    new Gauge({
      name: "gantry_queue_entries",
      help: "Queue entries by state (available = queue depth, quarantined, ...)",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        const counts = await sources().queue?.();
        this.reset();
        for (const [state, n] of Object.entries(counts ?? {})) this.set({ state }, n);
      },
    });
  }

  /** Where the gauges read from (set once the store and queue are open). */
  setSources(sources: MetricsSources): void {
    this.sources = sources;
  }
}
