/** Bundle a TypeScript fixture into a runnable .mjs (Node 20 has no TS loader), inside the repo so bare imports resolve. */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const repoRoot = resolve(import.meta.dirname, "../..");

export async function bundleFixture(name: string): Promise<string> {
  const outDir = join(repoRoot, "node_modules", ".cache", "gantry-test");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${name}-${process.pid}.mjs`);
  await build({
    entryPoints: [join(import.meta.dirname, "fixtures", `${name}.ts`)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    external: ["better-sqlite3", "pg"],
    logLevel: "silent",
  });
  return outfile;
}
