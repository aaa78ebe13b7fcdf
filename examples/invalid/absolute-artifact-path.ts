// Invalid: artifact paths are relative to the job directory; "/tmp/dist" is absolute.
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-absolute-artifact-path",
  jobs: {
    build: job({ steps: [sh`mkdir -p dist`], outputs: { artifacts: { dist: "/tmp/dist" } } }),
  },
});
