// The smallest useful workflow: two jobs on the local executor, one artifact.
//   node bin/gantry.js run -f examples/hello.ts
import { executors, job, sh, workflow } from "gantry";

export default workflow({
  name: "hello",
  on: { manual: true },
  defaults: { executor: executors.local({ copyRepo: false }), timeout: "1m" },
  jobs: {
    greet: job({
      steps: [sh`mkdir -p out`, sh`echo "hello from gantry" > out/greeting.txt`, sh`cat out/greeting.txt`],
      outputs: { artifacts: { greeting: "out/greeting.txt" } },
    }),
    reply: job({
      needs: ["greet"],
      inputs: { artifacts: { greeting: "in/greeting.txt" } }, // the artifact lands at this path
      steps: [sh`cat in/greeting.txt`, sh`echo "and hello back"`],
    }),
  },
});
