// A diamond: a builds, b and c use its output in parallel, d restores both reports to custom paths.
//   node bin/gantry.js graph -f examples/diamond.ts --format mermaid
import { executors, job, sh, workflow } from "gantry";

export default workflow({
  name: "diamond",
  defaults: { executor: executors.local({ copyRepo: false }), timeout: "1m" },
  jobs: {
    a: job({
      steps: [sh`mkdir -p dist && echo "built" > dist/app.txt`],
      outputs: { artifacts: { dist: "dist" } },
    }),
    b: job({
      needs: ["a"],
      inputs: { artifacts: { dist: "dist" } },
      steps: [sh`cat dist/app.txt > b.txt && echo "checked by b" >> b.txt`],
      outputs: { artifacts: { "b-report": "b.txt" } },
    }),
    c: job({
      needs: ["a"],
      inputs: { artifacts: { dist: "input/dist" } },
      steps: [sh`cat input/dist/app.txt > c.txt && echo "checked by c" >> c.txt`],
      outputs: { artifacts: { "c-report": "c.txt" } },
    }),
    d: job({
      needs: ["b", "c"],
      inputs: { artifacts: { "b-report": "reports/b.txt", "c-report": "reports/c.txt" } },
      steps: [sh`cat reports/b.txt reports/c.txt`],
    }),
  },
});
