// Invalid: "biuld" is not a job (a typo of "build"). TypeScript flags it; the plan compiler does too.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-unknown-need",
  jobs: {
    build: job({ steps: [sh`echo build`] }),
    // @ts-expect-error -- the mistake this example shows
    test: job({ needs: ["biuld"], steps: [sh`echo test`] }),
  },
});
