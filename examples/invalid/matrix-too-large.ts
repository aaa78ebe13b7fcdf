// Invalid: 20 x 20 = 400 combinations, over the limit of this workflow (100).
import { job, sh, workflow } from "gantry";

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export default workflow({
  name: "invalid-matrix-too-large",
  matrixLimit: 100,
  jobs: {
    test: job({ matrix: { x: range(20), y: range(20) }, steps: [sh`echo test`] }),
  },
});
