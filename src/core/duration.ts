/**
 * Durations are typed strings: `"15m"`, `"1h30m"`, `"250ms"`. A typo such as
 * `"15 mins"` fails type-checking; at plan time `parseDuration` rejects what
 * the types cannot see (for example a value that came from JSON).
 */
export type DurationUnit = "ms" | "s" | "m" | "h" | "d";
export type Duration = `${number}${DurationUnit}` | `${number}${DurationUnit}${number}${DurationUnit}`;

/**
 * The longest delay one `setTimeout` honours (2^31 - 1 ms, 24d20h31m23.647s);
 * a longer one fires at once. The engine chains timers past it; options
 * handed to libraries that take one timer (SSH timeouts) are capped at it.
 */
export const MAX_TIMER_MS = 2_147_483_647;

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Milliseconds for a duration string, or `undefined` when it is not one. */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== "string" || text.length === 0 || text.length > 64) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = PART.exec(text); m; m = PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
    end = PART.lastIndex;
  }
  if (end !== text.length || !Number.isFinite(total)) return undefined;
  return Math.round(total);
}

/** `1500` -> `"1.5s"`, `61000` -> `"1m1s"`: short and exact enough for logs. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1).replace(/\.?0+$/, "")}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return h > 0 ? `${h}h${m}m` : `${m}m${s}s`;
}
