// Invalid: a cycle. a needs c, c needs b, b needs a: no job can start.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-cycle",
  jobs: {
    a: job({ needs: ["c"], steps: [sh`echo a`] }),
    b: job({ needs: ["a"], steps: [sh`echo b`] }),
    c: job({ needs: ["b"], steps: [sh`echo c`] }),
  },
});
