// Invalid: test restores the artifact "dist", which no job it needs produces.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-missing-artifact",
  jobs: {
    build: job({ steps: [sh`mkdir -p out && echo x > out/x`], outputs: { artifacts: { out: "out" } } }),
    test: job({ needs: ["build"], inputs: { artifacts: { dist: "dist" } }, steps: [sh`ls dist`] }),
  },
});
