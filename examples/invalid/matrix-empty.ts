// Invalid: an axis without values expands to no job at all.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-matrix-empty",
  jobs: {
    test: job({ matrix: { node: [] }, steps: [sh`echo test`] }),
  },
});
