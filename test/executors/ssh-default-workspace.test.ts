/**
 * The SSH executor with its default `workspaceDir` (`.gantry/work`, relative
 * to the directory sshd starts commands in: the user's home from the password
 * database) against a stock OpenSSH server: jobs run, in the job directory and
 * in a subdirectory of it.
 */
import { afterAll, describe, expect, it } from "vitest";
import { makeJobInfo, makePlanExecutor, makeWorkspaceInfo } from "gantry/testing";
import { createSshExecutor } from "../../src/executors/ssh/index.js";
import { requireService } from "../support/services.js";
import { startSshdFixture } from "../support/sshd.js";
import type { SshdFixture } from "../support/sshd.js";

const skip = await requireService("sshd", "the ssh executor's default workspaceDir");
let fixture: SshdFixture | undefined;
afterAll(async () => {
  await fixture?.close();
});

describe.skipIf(skip)("ssh executor with the default workspaceDir", () => {
  it("runs steps in the job directory under ~/.gantry/work, and in a subdirectory of it", async () => {
    fixture = await startSshdFixture({ count: 1 });
    const server = fixture.servers[0]!;
    const def = makePlanExecutor({
      name: "ssh-default",
      kind: "ssh",
      options: { host: server.alias, knownHosts: fixture.knownHosts, copyRepo: false },
    });
    const executor = createSshExecutor(def, { sshConfigFile: fixture.sshConfig, authSock: "" });
    const ws = makeWorkspaceInfo(def, [], { runId: `default-ws-${process.pid}` });
    const job = makeJobInfo("build", { runId: ws.runId });
    const exec = async (script: string, cwd?: string): Promise<{ code: number | null; out: string }> => {
      let out = "";
      const result = await executor.exec(
        job,
        { script, env: { PATH: "/usr/local/bin:/usr/bin:/bin" }, signal: new AbortController().signal, ...(cwd ? { cwd } : {}) },
        { stdout: (c) => (out += c.toString()), stderr: (c) => (out += c.toString()) },
      );
      return { code: result.exitCode, out };
    };
    await executor.setupWorkspace(ws);
    try {
      await executor.setupJob(job);
      const top = await exec("pwd -P && mkdir sub");
      expect(top.code).toBe(0);
      const jobDir = top.out.trim();
      expect(jobDir).toMatch(new RegExp(`/\\.gantry/work/default-ws-${process.pid}/ssh-default/jobs/build-[0-9a-f]{8}$`));
      const sub = await exec("pwd -P", "sub");
      expect(sub).toEqual({ code: 0, out: `${jobDir}/sub\n` });
    } finally {
      await executor.cleanupJob(job);
      await executor.cleanupWorkspace(ws);
    }
  });
});
