// Invalid: two jobs share the display name "Build" (names identify jobs in logs and the UI).
import { job, sh, workflow } from "gantry";

export default workflow({
  name: "invalid-duplicate-names",
  jobs: {
    "build-linux": job({ name: "Build", steps: [sh`echo linux`] }),
    "build-mac": job({ name: "Build", steps: [sh`echo mac`] }),
  },
});
