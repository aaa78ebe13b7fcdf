/**
 * Gantry's own CI, run by Gantry: `node bin/gantry.js run`.
 * Each job works in its own copy of the repository (copyRepo) and borrows the
 * checkout's node_modules through a symlink, so no job reinstalls anything.
 */
import { always, job, sh, workflow } from "gantry";

const prepare = sh`ln -s "$GANTRY_REPO/node_modules" node_modules`;

export default workflow({
  name: "ci",
  on: { push: { branches: ["main"] }, manual: true },
  defaults: { timeout: "30m" },
  jobs: {
    typecheck: job({ steps: [prepare, sh`npx tsc -p tsconfig.test.json --noEmit`] }),
    lint: job({ steps: [prepare, sh`npx eslint .`] }),
    unit: job({ steps: [prepare, sh`npx vitest run test/core test/engine test/env test/reporters test/types`] }),
    integration: job({
      steps: [prepare, sh`node scripts/build.mjs`, sh`npx vitest run test/executors test/cli test/e2e test/store`],
    }),
    summary: job({
      needs: ["typecheck", "lint", "unit", "integration"],
      if: always(),
      steps: [
        async (ctx) => {
          const rows = Object.entries(ctx.needs).map(([name, r]) => `${name.padEnd(12)} ${r.status}`);
          ctx.log.info(`CI summary\n${rows.join("\n")}`);
          if (Object.values(ctx.needs).some((r) => r.status !== "success")) throw new Error("CI failed");
        },
      ],
    }),
  },
});
