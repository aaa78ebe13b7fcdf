/**
 * Sizes in bytes, written as a number of bytes or a string with a unit:
 * `"100MiB"`, `"512KiB"`, `"1GiB"` (powers of 1024) or `"10MB"` (powers of
 * 1000). Pure: used for the log limit of jobs and the `--log-limit` flag.
 */
export type SizeUnit = "B" | "KiB" | "MiB" | "GiB" | "KB" | "MB" | "GB";
export type Size = number | `${number}${SizeUnit}`;

const UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
};

/** Bytes of a size, or `undefined` when it is not one (negative, not finite, unknown unit). */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = UNITS[(m[2] || "B").toUpperCase()];
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
}

/** `100 MiB`, `1.5 GiB`, `512 KiB`, `12 B`: for messages. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes >= n) {
      const v = bytes / n;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} B`;
}
