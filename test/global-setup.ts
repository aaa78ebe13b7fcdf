/**
 * Vitest global setup: build dist/ once (tsc) when it is missing or older than
 * src/, so suites that spawn `node bin/gantry.js` test the current code.
 * `npm test` builds first, in which case this finds dist/ fresh and does nothing.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const marker = join(root, "dist", "cli", "main.js");
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(join(root, "src"))) return;
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: root, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`building dist/ for the tests failed:\n${result.stdout}${result.stderr}`);
}
