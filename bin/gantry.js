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
const code = await cli.main(process.argv.slice(2));
// Exit only once what was written reached the OS: a pipe to a slow reader gets every line.
await Promise.all([cli.flushed(process.stdout), cli.flushed(process.stderr)]);
process.exit(code);
