// Invalid: "../dist" would leave the job directory.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-dotdot-artifact-path",
  jobs: {
    build: job({ steps: [sh`mkdir -p dist`], outputs: { artifacts: { dist: "dist" } } }),
    test: job({ needs: ["build"], inputs: { artifacts: { dist: "../dist" } }, steps: [sh`ls`] }),
  },
});
