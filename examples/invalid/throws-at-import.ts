// Invalid: the module throws while it is imported (before the workflow exists).
import { job, sh, workflow } from "gantry";

function readTargets(): string[] {
  throw new Error("targets.json is missing");
}

const targets = readTargets();

export default workflow({
  name: "invalid-throws-at-import",
  jobs: {
    deploy: job({ steps: [sh`echo ${targets}`] }),
  },
});
