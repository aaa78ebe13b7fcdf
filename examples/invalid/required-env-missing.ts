// Invalid unless GANTRY_EXAMPLE_DEPLOY_TOKEN is set: required names are checked before any job runs.
import { env, job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-required-env-missing",
  env: [env.required("GANTRY_EXAMPLE_DEPLOY_TOKEN")],
  jobs: {
    deploy: job({ steps: [sh`echo deploying`] }),
  },
});
