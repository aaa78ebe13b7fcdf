/**
 * `RunEvents` (src/queue/api.ts) over the store's per-run event log: `read`
 * pages `run_events` by `seq`; `subscribe` calls back when new events of the
 * run were committed. Wake-ups: in-process at once (the queue's `onChange`),
 * and from other server processes by polling the run's last `seq` (the truth;
 * it works behind a pooler without LISTEN). PostgreSQL's `NOTIFY
 * gantry_queue` is sent on every commit as a latency hint for listeners.
 */
import type { RunEvents } from "../queue/api.js";
import type { Store } from "../store/store.js";

export interface RunEventsOptions {
  /** How often a subscribed run's last sequence number is polled (default 500 ms). */
  readonly pollMs?: number;
}

export function createRunEvents(store: Store, options: RunEventsOptions = {}): RunEvents {
  const pollMs = options.pollMs ?? 500;
  return {
    read: (runId, after, limit) => store.queue.readEvents(runId, after, limit),
    subscribe(runId, onNew) {
      let closed = false;
      let last = -1;
      const fire = (): void => {
        if (!closed) onNew();
      };
      const off = store.queue.onChange((change) => {
        if (change.kind === "events" && change.runId === runId) fire();
      });
      const timer = setInterval(() => {
        store.queue
          .state(runId)
          .then((state) => {
            const seq = state?.lastSeq ?? 0;
            if (last >= 0 && seq !== last) fire();
            last = seq;
          })
          .catch(() => undefined); // a store hiccup: the next poll tries again
      }, pollMs);
      timer.unref();
      return () => {
        closed = true;
        off();
        clearInterval(timer);
      };
    },
  };
}
