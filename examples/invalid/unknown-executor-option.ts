// Invalid: the local executor has no option "copyrepo" (it is "copyRepo").
import { executors, job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-unknown-executor-option",
  jobs: {
    // @ts-expect-error -- the mistake this example shows
    build: job({ executor: executors.local({ copyrepo: false }), steps: [sh`echo build`] }),
  },
});
