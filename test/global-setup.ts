/**
 * Vitest global setup: build dist/ once (tsc) when it is missing or older than
 * src/, so suites that spawn `node bin/gantry.js` test the current code.
 * `npm test` builds first, in which case this finds dist/ fresh and does nothing.
 *
 * It also collects the skips of `requireService` (test/support/services.ts)
 * from every test file and prints one line per missing service at the end.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SKIPS_DIR_ENV } from "./support/services.js";

const root = resolve(import.meta.dirname, "..");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

interface Skip {
  readonly label: string;
  readonly reason: string;
  readonly why: string;
}

/** One line per missing service: what it is, why it is missing, what was skipped. */
export function skipSummary(dir: string): string[] {
  const lines: string[] = [];
  for (const file of readdirSync(dir).sort()) {
    const skips = readFileSync(join(dir, file), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Skip);
    const first = skips[0];
    if (!first) continue;
    const whats = [...new Set(skips.map((s) => s.why))];
    lines.push(`skipped without ${first.label} (${first.reason}): ${whats.join("; ")}`);
  }
  return lines;
}

export default function setup(): () => void {
  const skips = mkdtempSync(join(tmpdir(), "gantry-test-skips-"));
  process.env[SKIPS_DIR_ENV] = skips;
  build();
  return () => {
    const lines = skipSummary(skips);
    rmSync(skips, { recursive: true, force: true });
    if (lines.length === 0) return;
    console.log(
      ["", ...lines, "(GANTRY_REQUIRE_SERVICES=1 makes a missing service fail the run; scripts/provision.sh starts them)"].join("\n"),
    );
  };
}

function build(): void {
  const marker = join(root, "dist", "cli", "main.js");
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(join(root, "src"))) return;
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: root, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`building dist/ for the tests failed:\n${result.stdout}${result.stderr}`);
}
