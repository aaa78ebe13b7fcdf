// Invalid: "15 mins" is not a duration (write "15m"). TypeScript flags it; the plan compiler does too.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-bad-duration",
  jobs: {
    // @ts-expect-error -- the mistake this example shows
    slow: job({ timeout: "15 mins", steps: [sh`echo slow`] }),
  },
});
