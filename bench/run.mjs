// `npm run bench`: every side-by-side benchmark in one run; prints a table of
// medians and ratios and writes bench/results.md.
import { writeFileSync } from "node:fs";
import { engineBenchmarks } from "./engine.mjs";
import { machine, table } from "./lib.mjs";

const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

function row(r) {
  if (r.higherIsBetter) {
    const ratio = r.gantryRate / r.rawRate;
    return {
      name: r.name,
      gantry: `${r.gantryRate.toFixed(0)} MB/s`,
      raw: `${r.rawRate.toFixed(0)} MB/s`,
      ratio,
      target: `>= ${r.target}x`,
      ok: ratio >= r.target,
    };
  }
  const ratio = r.gantryMs / r.rawMs;
  return { name: r.name, gantry: fmt(r.gantryMs), raw: fmt(r.rawMs), ratio, target: `<= ${r.target}x`, ok: ratio <= r.target };
}

const sections = [];
const only = process.argv.slice(2);
const want = (name) => only.length === 0 || only.includes(name);

if (want("engine")) sections.push({ title: "Engine and local executor", rows: (await engineBenchmarks()).map(row) });
for (const [name, title] of [
  ["logs", "Log output (bench c: store writer attached)"],
  ["store", "Store"],
  ["containers", "Container executor"],
  ["ssh", "SSH executor"],
  ["plan", "Planning"],
  ["queue", "Server queue (PostgreSQL)"],
  ["server", "Server API"],
]) {
  if (!want(name)) continue;
  try {
    const mod = await import(`./${name}.mjs`);
    const rows = await mod.benchmarks();
    if (rows) sections.push({ title, rows: rows.map((r) => ("ratio" in r ? r : row(r))) });
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes(`${name}.mjs`)) continue;
    sections.push({ title, note: `not measured: ${error?.message ?? error}` });
  }
}

const when = new Date().toISOString().slice(0, 16).replace("T", " ");
let md = `# Benchmark results\n\nMeasured ${when} UTC on ${machine()}.\nMedians of several runs, Gantry and the raw operation side by side in the same run (\`npm run bench\`).\n`;
for (const s of sections) {
  md += `\n## ${s.title}\n\n${s.note ?? table(s.rows)}\n`;
  console.log(`\n${s.title}\n${s.note ?? table(s.rows)}`);
}
if (only.length === 0) writeFileSync(new URL("./results.md", import.meta.url), md);
