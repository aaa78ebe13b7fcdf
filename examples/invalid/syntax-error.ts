// Invalid: a TypeScript syntax error (a missing closing parenthesis) found when bundling.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-syntax-error",
  jobs: {
    build: job({ steps: [sh`echo build`] },
  },
});
