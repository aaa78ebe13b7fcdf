/**
 * Host choice, pure. A job goes to the usable host with the fewest running
 * jobs, below `maxJobsPerHost`. A host that failed its health check
 * (connect + `true`) or lost its connection is skipped until `retryAt`; after
 * that it is offered again, marked `probe` so the caller checks it first.
 */

export interface HostHealth {
  readonly healthy: boolean;
  /** For an unhealthy host: when to try it again (epoch ms). */
  readonly retryAt?: number;
  /** Why it is unhealthy, for messages. */
  readonly reason?: string;
}

export type PickResult =
  /** Use `host`; `probe` when its health is unknown or its retry time has come. */
  | { readonly kind: "host"; readonly host: string; readonly probe: boolean }
  /** Every usable host is at `maxJobsPerHost`: wait for a job to finish, or until `retryAt`, when an unhealthy host may be tried again. */
  | { readonly kind: "wait"; readonly retryAt?: number }
  /** Every host is unhealthy and none is due for a retry yet. */
  | { readonly kind: "down"; readonly retryAt: number };

export interface PickOptions {
  readonly maxJobsPerHost?: number;
  readonly now: number;
}

/**
 * Choose a host. Ties go to a host known to be healthy over one to probe,
 * then to the earlier one in `hosts`. `health` has no entry for a host never
 * checked (that host is probed).
 */
export function pickHost(
  hosts: readonly string[],
  load: ReadonlyMap<string, number>,
  health: ReadonlyMap<string, HostHealth>,
  options: PickOptions,
): PickResult {
  const max = options.maxJobsPerHost ?? Number.POSITIVE_INFINITY;
  let best: { host: string; load: number; probe: boolean; index: number } | undefined;
  let full = false;
  let retryAt = Number.POSITIVE_INFINITY;
  hosts.forEach((host, index) => {
    const h = health.get(host);
    let probe = h === undefined;
    if (h !== undefined && !h.healthy) {
      const due = h.retryAt ?? 0;
      if (due > options.now) {
        retryAt = Math.min(retryAt, due);
        return;
      }
      probe = true;
    }
    const running = load.get(host) ?? 0;
    if (running >= max) {
      full = true;
      return;
    }
    const better = best === undefined || running < best.load || (running === best.load && !probe && best.probe);
    if (better) best = { host, load: running, probe, index };
  });
  if (best !== undefined) return { kind: "host", host: best.host, probe: best.probe };
  if (full) return Number.isFinite(retryAt) ? { kind: "wait", retryAt } : { kind: "wait" };
  return { kind: "down", retryAt: Number.isFinite(retryAt) ? retryAt : options.now };
}

/** How long an unhealthy host is skipped: 2 s, doubling per consecutive failure, at most 60 s. */
export function unhealthyBackoffMs(failures: number): number {
  return Math.min(60_000, 2_000 * 2 ** Math.max(0, failures - 1));
}
