/**
 * `HostPool` waiting, with fake connections and fake timers: a job waiting
 * for a slot wakes when a host skipped as unhealthy is due again, not only
 * when another job ends.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SshConnection } from "../../src/executors/ssh/connection.js";
import { HostPool } from "../../src/executors/ssh/host-pool.js";
import type { HostTarget } from "../../src/executors/ssh/options.js";

const target = (label: string): HostTarget => ({ label, host: "127.0.0.1", port: 22, user: "ci", identityFiles: [] });

/** A connection whose `true` exits 0; `connect` fails for hosts listed in `down`. */
function fakeConnect(down: Set<string>, connects: string[]) {
  return (t: HostTarget): Promise<SshConnection> => {
    connects.push(t.label);
    if (down.has(t.label)) return Promise.reject(new Error("connection refused"));
    const conn = {
      closed: false,
      closedByUs: false,
      onClose: () => undefined,
      run: () => Promise.resolve({ code: 0, signal: null }),
      close: () => undefined,
    };
    return Promise.resolve(conn as unknown as SshConnection);
  };
}

describe("ssh host pool", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("a job waiting on full hosts takes a skipped host once it is due again", async () => {
    const down = new Set(["b"]);
    const connects: string[] = [];
    const pool = new HostPool([target("a"), target("b")], {
      executorName: "pool",
      mode: "pool",
      maxJobsPerHost: 1,
      connect: fakeConnect(down, connects),
      now: () => Date.now(),
    });
    const signal = new AbortController().signal;
    const first = await pool.acquire(signal);
    expect(first.target.label).toBe("a");
    let second: string | undefined;
    const waiting = pool.acquire(signal).then((h) => (second = h.target.label));
    await vi.advanceTimersByTimeAsync(0);
    expect(connects).toEqual(["a", "b"]); // b was probed and failed: skipped for a while
    expect(pool.isDown(pool.hosts.get("b")!)).toBe(true);
    expect(second).toBeUndefined();

    down.delete("b"); // b comes back; nothing is released on a
    await vi.advanceTimersByTimeAsync(60_000);
    await waiting;
    expect(second).toBe("b");
    expect(pool.hosts.get("a")?.running).toBe(1);
  });
});
