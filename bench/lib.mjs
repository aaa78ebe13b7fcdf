// Shared helpers for the side-by-side benchmarks: timing, medians, tables.
import { spawn } from "node:child_process";
import { cpus } from "node:os";

export const now = () => performance.now();

export async function timeIt(fn) {
  const start = now();
  await fn();
  return now() - start;
}

/** Run `fn` `runs` times (after one warm-up) and return the median in ms. */
export async function median(fn, runs = 5) {
  await fn();
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await timeIt(fn));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export function spawnWait(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: "ignore", ...options });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

export function machine() {
  return `${cpus().length} cores (${cpus()[0]?.model?.trim() ?? "unknown cpu"}), Node ${process.version}, ${process.platform}`;
}

export function table(rows) {
  const header = ["benchmark", "gantry", "raw", "ratio", "target", "ok"];
  const body = rows.map((r) => [r.name, r.gantry, r.raw, r.ratio.toFixed(2) + "x", r.target, r.ok ? "yes" : "NO"]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...body.map(line)].join("\n");
}
