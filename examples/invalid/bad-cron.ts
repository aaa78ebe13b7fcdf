// Invalid: minute 61 does not exist.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-bad-cron",
  on: { cron: "61 * * * *" },
  jobs: {
    nightly: job({ steps: [sh`echo nightly`] }),
  },
});
