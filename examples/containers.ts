// Containers: a shared-mode build on Debian, an isolated-mode test matrix on its artifact, a job
// that packages it with an ephemeral BusyBox container, and a local job that checks the package
// in a `container:` step. Uses the local test images (scripts/build-test-images.sh).
//   node bin/gantry.js run -f examples/containers.ts                                       # Docker
//   DOCKER_HOST=unix:///run/podman/podman.sock node bin/gantry.js run -f examples/containers.ts   # Podman
import { executors, job, sh, workflow } from "gantry";

const DEBIAN = "gantry-test/debian:12";
const BUSYBOX = "gantry-test/busybox:1";

const debian = executors.container({ name: "debian", image: DEBIAN, copyRepo: false }); // shared: one container for the run
const tester = executors.container({ name: "tester", image: DEBIAN, mode: "isolated", copyRepo: false }); // a container per job

export default workflow({
  name: "containers",
  on: { manual: true },
  defaults: { timeout: "5m" },
  jobs: {
    build: job({
      executor: debian,
      steps: [sh`mkdir -p dist && echo "built on $(. /etc/os-release && echo "$ID") with bash $BASH_VERSION" > dist/app.txt`],
      outputs: { artifacts: { dist: "dist" } },
    }),
    test: job({
      needs: ["build"],
      matrix: { shard: ["1", "2"] },
      executor: tester,
      inputs: { artifacts: { dist: "dist" } },
      steps: ({ matrix }) => [
        sh`test "$GANTRY_WORKSPACE" = "$PWD"`, // the job directory, as the container sees it
        sh`grep "built on debian" dist/app.txt && echo "shard ${matrix.shard} passed"`,
      ],
    }),
    package: job({
      needs: ["test"],
      executor: debian,
      inputs: { artifacts: { dist: "dist" } },
      steps: [
        async (ctx) => {
          // A throw-away BusyBox container on this job's files: removed when the callback returns or throws.
          const listing = await ctx.container(BUSYBOX, async (c) => {
            await c.sh`test ! -e /bin/bash && tar -cf app.tar dist`;
            return c.exec(["tar", "-tf", "app.tar"]);
          });
          ctx.log.info(`packaged ${listing.stdout.trim().split("\n").length} entries`);
        },
        sh.with({ name: "checksum", container: BUSYBOX })`sha256sum app.tar > app.tar.sha256`,
        sh`cat app.tar.sha256`,
      ],
      outputs: { artifacts: { package: "app.tar", checksum: "app.tar.sha256" } },
    }),
    verify: job({
      needs: ["package"],
      executor: executors.local({ copyRepo: false }), // a local job: its directory is bind-mounted into the container
      inputs: { artifacts: { package: "app.tar", checksum: "app.tar.sha256" } },
      steps: [sh.with({ name: "verify in busybox", container: BUSYBOX })`sha256sum -c app.tar.sha256 && tar -xOf app.tar dist/app.txt`],
    }),
  },
});
