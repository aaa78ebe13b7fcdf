// A 3x2 matrix minus one excluded combination: five `test` jobs, then one `report` that needs them all.
//   node bin/gantry.js graph -f examples/matrix.ts
import { always, executors, job, sh, workflow } from "gantry";

export default workflow({
  name: "matrix",
  defaults: { executor: executors.local({ copyRepo: false }), timeout: "1m" },
  jobs: {
    test: job({
      matrix: { node: ["18", "20", "22"], os: ["alpine", "bookworm"], exclude: [{ node: "18", os: "alpine" }] },
      steps: ({ matrix }) => [
        sh`echo testing node ${matrix.node} on ${matrix.os}`,
        sh.with({ name: "check", retry: { attempts: 2, backoff: "constant", delay: "100ms" } })`test -n ${matrix.node}`,
      ],
    }),
    report: job({
      needs: ["test"],
      if: always(),
      steps: [sh`echo "all five combinations finished"`],
    }),
  },
});
