// Invalid: the default export must be workflow({ ... }), not a bare job.
import { job, sh } from "gantry";

export default job({ steps: [sh`echo lonely`] });
