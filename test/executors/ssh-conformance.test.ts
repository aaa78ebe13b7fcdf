/**
 * The executor conformance suite against real OpenSSH servers, in shared
 * and in dedicated mode.
 */
import { afterAll } from "vitest";
import { describeExecutorConformance, makePlanExecutor } from "gantry/testing";
import { createSshExecutor } from "../../src/executors/ssh/index.js";
import type { SshMode } from "../../src/executors/ssh/index.js";
import { requireService } from "../support/services.js";
import { startSshdFixture } from "../support/sshd.js";
import type { SshdFixture } from "../support/sshd.js";

const skip = await requireService("sshd", "ssh executor conformance");
let fixture: Promise<SshdFixture> | undefined;
const sshd = (): Promise<SshdFixture> => (fixture ??= startSshdFixture({ count: 1 }));

afterAll(async () => {
  await (await fixture)?.close();
});

for (const mode of ["shared", "dedicated"] as const satisfies readonly SshMode[]) {
  describeExecutorConformance(
    `ssh (${mode})`,
    async () => {
      const f = await sshd();
      const server = f.servers[0]!;
      const def = makePlanExecutor({
        name: `ssh-${mode}`,
        kind: "ssh",
        options: { host: server.alias, mode, knownHosts: f.knownHosts, workspaceDir: `${f.dir}/work-${mode}` },
      });
      return { executor: createSshExecutor(def, { sshConfigFile: f.sshConfig, authSock: "" }) };
    },
    { skip },
  );
}
