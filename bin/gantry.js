#!/usr/bin/env node
// The gantry command: runs the compiled CLI in dist/ (built by `npm run build`, and by `npm ci` through `prepare`).
import process from "node:process";

let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (error) {
  if (error && error.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist")) {
    process.stderr.write("gantry: not built yet; run `npm run build` (or `npm ci`, which builds) in the gantry package first\n");
    process.exit(1);
  }
  throw error;
}
process.exit(await cli.main(process.argv.slice(2)));
