/**
 * The SSH executor's pure parts, without sshd: quoting and the exec wrapper
 * (run by a real local shell), ssh config and host specs, known_hosts,
 * host choice, option resolution, error sentences.
 */
import { spawnSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  EXEC_COMMAND,
  execHeader,
  parseErrorLine,
  parsePgidLine,
  reapLine,
  shQuote,
  shQuoteLine,
} from "../../src/executors/ssh/command.js";
import { blockMatches, expandTokens, lookupHost, parseHostSpec, parseSshConfig } from "../../src/executors/ssh/config.js";
import { connectError, hostKeyError } from "../../src/executors/ssh/errors.js";
import {
  checkHostKey,
  entryMatches,
  fingerprint,
  hostKeyAlgorithmOrder,
  keyTypeOf,
  knownHostName,
  knownHostsLine,
  parseKnownHosts,
} from "../../src/executors/ssh/known-hosts.js";
import { resolveSshOptions, resolveTarget, targetLocation } from "../../src/executors/ssh/options.js";
import type { HostTarget } from "../../src/executors/ssh/options.js";
import { pickHost, unhealthyBackoffMs } from "../../src/executors/ssh/pool.js";
import type { HostHealth, PickResult } from "../../src/executors/ssh/pool.js";
import { requireService } from "../support/services.js";

const noSetsid = await requireService("setsid", "the exec wrapper tests (run in a new session, as sshd runs them)");

/** Run the exec wrapper in a local shell, as sshd would (in a new session). */
function wrapper(header: string, stdin = ""): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync("setsid", ["/bin/sh", "-c", EXEC_COMMAND], { input: header + stdin, encoding: "utf8" });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe("shell quoting", () => {
  it("round-trips any string without NUL through sh, on one line or not", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary" }).filter((s) => !s.includes("\0")),
        (value) => {
          const plain = spawnSync("/bin/sh", ["-c", `printf %s ${shQuote(value)}`], { encoding: "utf8" }).stdout;
          expect(plain).toBe(value);
          const line = shQuoteLine(value);
          expect(line).not.toContain("\n");
          const out = spawnSync("/bin/sh", ["-c", `__gn='\n'; printf %s ${line}`], { encoding: "utf8" }).stdout;
          expect(out).toBe(value);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses NUL bytes", () => {
    expect(() => shQuote("a\0b")).toThrow(/NUL/);
    expect(() => execHeader({ dir: ".", env: { A: "x\0" }, script: "true" })).toThrow(/NUL/);
  });
});

describe.skipIf(noSetsid)("the exec request and wrapper", () => {
  it("keeps the request off the command line: the remote command is a constant", () => {
    const header = execHeader({ dir: "/w/job", env: { TOKEN: "secret-value" }, script: "echo $TOKEN" });
    expect(EXEC_COMMAND).not.toContain("secret-value");
    expect(header.endsWith("\n")).toBe(true);
    expect(header.slice(0, -1)).not.toContain("\n");
  });

  it("exports env, runs the script with -e and pipefail, reports the pgid first on stderr", () => {
    const r = wrapper(
      execHeader({
        dir: "/tmp",
        env: { A: "x y 'z'\nline2 $HOME", B: "" },
        script: 'printf \'%s|\' "$A" "$B"; pwd; false | true; echo after',
      }),
    );
    expect(r.stdout).toBe("x y 'z'\nline2 $HOME||/tmp\n");
    expect(r.status).toBe(1);
    const pgid = parsePgidLine(r.stderr.split("\n")[0] ?? "");
    expect(pgid).toBeGreaterThan(1);
  });

  it("runs argv without a shell and leaves the rest of stdin to the process", () => {
    expect(wrapper(execHeader({ dir: "/tmp", env: {}, argv: ["printf", "%s|%s", "a b", "$HOME"] })).stdout).toBe("a b|$HOME");
    expect(wrapper(execHeader({ dir: "/tmp", env: {}, script: "cat; echo done" }), "in 1\nin 2\n").stdout).toBe("in 1\nin 2\ndone\n");
  });

  it("reports a missing or escaping working directory instead of running", () => {
    const missing = wrapper(execHeader({ dir: "/tmp/sub-that-is-not-there", jobDir: "/tmp", env: {}, argv: ["true"] }));
    expect(missing.status).toBe(125);
    expect(parseErrorLine(missing.stderr.trim())).toEqual({ kind: "nocwd", detail: "/tmp/sub-that-is-not-there" });
    const escape = wrapper(execHeader({ dir: "/tmp/..", jobDir: "/tmp", env: {}, argv: ["true"] }));
    expect(parseErrorLine(escape.stderr.trim())).toEqual({ kind: "escape", detail: "/" });
  });

  it("reports death by a signal as the process's own", () => {
    expect(wrapper(execHeader({ dir: "/tmp", env: {}, script: "kill -KILL $$" })).signal).toBe("SIGKILL");
  });

  it("refuses env names a shell cannot export, and the wrapper's own names", () => {
    expect(() => execHeader({ dir: ".", env: { "A.B": "1" }, script: "true" })).toThrow(/env name "A.B"/);
    expect(() => execHeader({ dir: ".", env: { __gs: "1" }, script: "true" })).toThrow(/__gs/);
    expect(() => execHeader({ dir: ".", env: {}, argv: [] })).toThrow(/neither/);
    expect(() => execHeader({ dir: ".", env: {}, script: "x", argv: ["y"] })).toThrow(/both/);
  });

  it("builds kill lines only for real process groups", () => {
    expect(reapLine(1234, 250)).toMatch(/^kill -TERM -1234 2>\/dev\/null && \(.*kill -KILL -1234.*&\n$/);
    expect(reapLine(1234, 250)).toContain("-lt 3 ");
    expect(() => reapLine(1, 100)).toThrow();
    expect(() => reapLine(0, 100)).toThrow();
    expect(parsePgidLine("@gantry-pgid 1")).toBeUndefined();
    expect(parsePgidLine("hello")).toBeUndefined();
  });
});

describe("ssh config", () => {
  const config = parseSshConfig(`
# defaults for CI boxes
Host build-* !build-legacy
  User ci
  IdentityFile ~/.ssh/ci_%h
Host build-1
  HostName 10.0.0.11
  Port 2222
  User ignored-first-wins
Host build-legacy
  HostName old.example.com
Match host foo
  User matched
Host *
  User fallback
  IdentityFile ~/.ssh/id_default
  Port=2200
  IdentityAgent "~/agent.sock"
`);

  const cases: Array<[string, object]> = [
    ["build-1", { hostName: "10.0.0.11", user: "ci", port: 2222, identityFiles: ["~/.ssh/ci_%h", "~/.ssh/id_default"] }],
    ["build-legacy", { hostName: "old.example.com", user: "fallback", port: 2200, identityFiles: ["~/.ssh/id_default"] }],
    ["other", { user: "fallback", port: 2200, identityFiles: ["~/.ssh/id_default"], identityAgent: "~/agent.sock" }],
  ];
  it.each(cases)("looks up %s (first value wins, negated patterns, Match ignored)", (alias, expected) => {
    expect(lookupHost(config, alias)).toMatchObject(expected);
  });

  it("matches patterns with * and ? case-insensitively", () => {
    expect(blockMatches(["web-??"], "WEB-01")).toBe(true);
    expect(blockMatches(["web-??"], "web-1")).toBe(false);
    expect(blockMatches(["*", "!db*"], "db1")).toBe(false);
  });

  it("expands ~ and % tokens", () => {
    expect(expandTokens("~/.ssh/ci_%h_%r_%u%%", { home: "/home/me", localUser: "me", host: "b1", remoteUser: "ci" })).toBe(
      "/home/me/.ssh/ci_b1_ci_me%",
    );
  });

  const specs: Array<[string, object]> = [
    ["build-1", { host: "build-1" }],
    ["ci@build-1", { user: "ci", host: "build-1" }],
    ["ci@10.0.0.5:2222", { user: "ci", host: "10.0.0.5", port: 2222 }],
    ["[::1]:22", { host: "::1", port: 22 }],
    ["::1", { host: "::1" }],
    ["host:0", { error: 'host "host:0" has an invalid port "0"' }],
    ["@", { error: 'host "@" is not a host name' }],
  ];
  it.each(specs)("parses the host spec %s", (spec, expected) => {
    expect(parseHostSpec(spec)).toEqual(expected);
  });
});

describe("known_hosts", () => {
  const blob = (type: string, body: string): Buffer => {
    const t = Buffer.from(type);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(t.length);
    return Buffer.concat([len, t, Buffer.from(body)]);
  };
  const key = blob("ssh-ed25519", "key-one");
  const other = blob("ssh-ed25519", "key-two");
  const rsa = blob("ssh-rsa", "rsa-key");
  const salt = Buffer.from("0123456789abcdefghij");
  const text = [
    "# comment",
    `build-1,10.0.0.11 ssh-ed25519 ${key.toString("base64")}`,
    knownHostsLine("[build-2]:2222", other, { hashed: true, salt }).trim(),
    `*.example.com,!bad.example.com ssh-rsa ${rsa.toString("base64")}`,
    `@revoked * ssh-ed25519 ${blob("ssh-ed25519", "stolen").toString("base64")}`,
    "garbage-line",
  ].join("\n");
  const entries = parseKnownHosts(text);

  it("parses entries with line numbers and markers", () => {
    expect(entries.map((e) => [e.line, e.marker ?? "", e.keyType])).toEqual([
      [2, "", "ssh-ed25519"],
      [3, "", "ssh-ed25519"],
      [4, "", "ssh-rsa"],
      [5, "revoked", "ssh-ed25519"],
    ]);
  });

  it("names non-standard ports [host]:port", () => {
    expect(knownHostName("h", 22)).toBe("h");
    expect(knownHostName("h", 2222)).toBe("[h]:2222");
  });

  it("matches hashed names with HMAC-SHA1 over the salt, as OpenSSH writes them", () => {
    const hashed = entries[1]!;
    expect(hashed.hosts).toBe(`|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("[build-2]:2222").digest("base64")}`);
    expect(entryMatches(hashed, "[build-2]:2222")).toBe(true);
    expect(entryMatches(hashed, "build-2")).toBe(false);
  });

  const checks: Array<[string, string, Buffer, object]> = [
    ["a known key", "build-1", key, { status: "known", line: 2 }],
    ["another name of the entry", "10.0.0.11", key, { status: "known", line: 2 }],
    ["a hashed entry", "[build-2]:2222", other, { status: "known", line: 3 }],
    ["a changed key", "build-1", other, { status: "changed", line: 2 }],
    ["an unknown host", "build-9", key, { status: "unknown", otherTypes: [] }],
    ["a host with keys of another type", "www.example.com", key, { status: "unknown", otherTypes: ["ssh-rsa"] }],
    ["a negated pattern", "bad.example.com", rsa, { status: "unknown", otherTypes: [] }],
    ["a revoked key", "build-1", blob("ssh-ed25519", "stolen"), { status: "revoked", line: 5 }],
  ];
  it.each(checks)("checks %s", (_what, name, k, expected) => {
    expect(checkHostKey(entries, name, keyTypeOf(k), k.toString("base64"))).toEqual(expected);
  });

  it("prints fingerprints as SHA256:base64 without padding", () => {
    expect(fingerprint(key)).toBe(`SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`);
    expect(fingerprint(key)).not.toMatch(/=$/);
  });

  it("offers the host key algorithms of known keys first", () => {
    expect(hostKeyAlgorithmOrder(["ssh-rsa"], ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"])).toEqual([
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
      "ssh-ed25519",
    ]);
    expect(hostKeyAlgorithmOrder([], ["a", "b"])).toEqual(["a", "b"]);
  });
});

describe("pickHost", () => {
  const hosts = ["h1", "h2", "h3"];
  const now = 1_000;
  const healthy: HostHealth = { healthy: true };
  const down = (retryAt: number): HostHealth => ({ healthy: false, retryAt, reason: "refused" });
  const cases: Array<[string, Record<string, number>, Record<string, HostHealth>, number | undefined, PickResult]> = [
    [
      "fewest running jobs",
      { h1: 2, h2: 1, h3: 2 },
      { h1: healthy, h2: healthy, h3: healthy },
      undefined,
      { kind: "host", host: "h2", probe: false },
    ],
    ["ties go to the earlier host", {}, { h1: healthy, h2: healthy, h3: healthy }, undefined, { kind: "host", host: "h1", probe: false }],
    ["ties prefer a known-healthy host over one to probe", {}, { h2: healthy }, undefined, { kind: "host", host: "h2", probe: false }],
    ["unknown health is probed", { h1: 1, h2: 1 }, { h1: healthy, h2: healthy }, undefined, { kind: "host", host: "h3", probe: true }],
    [
      "an unhealthy host is skipped",
      {},
      { h1: down(now + 5), h2: healthy, h3: healthy },
      undefined,
      { kind: "host", host: "h2", probe: false },
    ],
    [
      "an unhealthy host is retried when due",
      { h2: 1, h3: 1 },
      { h1: down(now), h2: healthy, h3: healthy },
      undefined,
      { kind: "host", host: "h1", probe: true },
    ],
    [
      "a full host is skipped",
      { h1: 2, h2: 1 },
      { h1: healthy, h2: healthy, h3: down(now + 5) },
      2,
      { kind: "host", host: "h2", probe: false },
    ],
    ["all full: wait", { h1: 1, h2: 1, h3: 1 }, { h1: healthy, h2: healthy, h3: healthy }, 1, { kind: "wait" }],
    [
      "full and down: wait until the down one is due",
      { h1: 1, h2: 1 },
      { h1: healthy, h2: healthy, h3: down(now + 5) },
      1,
      { kind: "wait", retryAt: now + 5 },
    ],
    [
      "all down: the earliest retry",
      {},
      { h1: down(now + 9), h2: down(now + 3), h3: down(now + 5) },
      undefined,
      { kind: "down", retryAt: now + 3 },
    ],
  ];
  it.each(cases)("%s", (_what, load, health, max, expected) => {
    expect(
      pickHost(hosts, new Map(Object.entries(load)), new Map(Object.entries(health)), {
        now,
        ...(max !== undefined && { maxJobsPerHost: max }),
      }),
    ).toEqual(expected);
  });

  it("backs off unhealthy hosts 2 s, doubling, at most 60 s", () => {
    expect([1, 2, 3, 6, 10].map(unhealthyBackoffMs)).toEqual([2_000, 4_000, 8_000, 60_000, 60_000]);
  });
});

describe("options", () => {
  it("fills in defaults: shared for one host, pool for several", () => {
    expect(resolveSshOptions("e", { host: "a" }, "/home/me")).toMatchObject({
      hosts: ["a"],
      mode: "shared",
      hostKeyPolicy: "strict",
      knownHosts: "/home/me/.ssh/known_hosts",
      workspaceDir: ".gantry/work",
      copyRepo: true,
      agent: true,
      connectTimeoutMs: 10_000,
      keepaliveMs: 15_000,
    });
    expect(resolveSshOptions("e", { hosts: ["a", "b"], connectTimeout: "3s", keepalive: "0s", knownHosts: "~/kh" }, "/h")).toMatchObject({
      mode: "pool",
      connectTimeoutMs: 3_000,
      keepaliveMs: 0,
      knownHosts: "/h/kh",
    });
  });

  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /needs host or hosts/],
    [{ host: "a", mode: "swarm" }, /mode: expected "shared", "dedicated" or "pool", got "swarm"/],
    [{ host: "a", connectTimeout: "soon" }, /connectTimeout: invalid duration "soon"/],
    [{ host: "a", workspaceDir: "/" }, /root directory/],
    [{ host: "a:99999" }, /invalid port/],
    [{ host: "a", maxJobsPerHost: 0 }, /maxJobsPerHost/],
  ];
  it.each(bad)("refuses %j with a sentence naming the executor", (raw, message) => {
    expect(() => resolveSshOptions("builders", raw, "/h")).toThrow(message);
    expect(() => resolveSshOptions("builders", raw, "/h")).toThrow(/^ssh executor "builders": /);
  });

  it("resolves a target: spec beats options beats ssh config; agent from SSH_AUTH_SOCK", () => {
    const config = parseSshConfig("Host b1\n  HostName 10.0.0.1\n  User cfg\n  Port 2201\n  IdentityFile ~/.ssh/b1\n");
    const local = { home: "/home/me", localUser: "me", authSock: "/run/agent.sock" };
    expect(resolveTarget("b1", resolveSshOptions("e", { host: "b1" }, "/home/me"), config, local)).toEqual({
      label: "b1",
      host: "10.0.0.1",
      port: 2201,
      user: "cfg",
      identityFiles: ["/home/me/.ssh/b1"],
      agent: "/run/agent.sock",
    });
    expect(
      resolveTarget(
        "root@b1:2",
        resolveSshOptions("e", { host: "root@b1:2", user: "opt", port: 3, agent: false, identityFile: "~/k" }, "/home/me"),
        config,
        local,
      ),
    ).toEqual({
      label: "root@b1:2",
      host: "10.0.0.1",
      port: 2,
      user: "root",
      identityFiles: ["/home/me/k"],
    });
    expect(
      resolveTarget("plain", resolveSshOptions("e", { host: "plain" }, "/home/me"), [], { home: "/home/me", localUser: "me" }),
    ).toMatchObject({
      host: "plain",
      port: 22,
      user: "me",
      identityFiles: ["/home/me/.ssh/id_ed25519", "/home/me/.ssh/id_ecdsa", "/home/me/.ssh/id_rsa"],
    });
  });
  it("says where a job runs: the address with its user, and the alias as written when there is one", () => {
    const at = (label: string, host: string, port = 22, user = "ci"): string => targetLocation({ label, host, port, user });
    expect(at("10.0.0.5", "10.0.0.5")).toBe("ci@10.0.0.5:22");
    expect(at("ci@10.0.0.5:2222", "10.0.0.5", 2222)).toBe("ci@10.0.0.5:2222");
    expect(at("[::1]:2201", "::1", 2201)).toBe("ci@[::1]:2201");
    expect(at("build-1", "10.0.0.11")).toBe("build-1 (ci@10.0.0.11:22)");
    expect(at("root@b1:2", "10.0.0.1", 2, "root")).toBe("root@b1:2 (root@10.0.0.1:2)");
  });
});

describe("error sentences", () => {
  const target: HostTarget = { label: "build-1", host: "10.0.0.11", port: 22, user: "ci", identityFiles: [] };
  const oneSentence = (m: string): void => {
    expect(m).not.toContain("\n");
    expect(m.endsWith(".")).toBe(true);
  };

  it("names the host and the cause", () => {
    const refused = connectError(target, Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), 10_000, []);
    expect(refused.message).toBe(
      "ssh host build-1 (10.0.0.11:22): unreachable: connection refused (no SSH server listening on that port).",
    );
    expect(refused.retryable).toBe(true);
    const timeout = connectError(
      target,
      Object.assign(new Error("Timed out while waiting for handshake"), { level: "client-timeout" }),
      5_000,
      [],
    );
    expect(timeout.message).toBe("ssh host build-1 (10.0.0.11:22): unreachable: no SSH handshake within 5s (connectTimeout).");
    const auth = connectError(
      target,
      Object.assign(new Error("All configured authentication methods failed"), { level: "client-authentication" }),
      1,
      ["the agent", "/k"],
    );
    expect(auth.message).toBe(
      "ssh host build-1 (10.0.0.11:22): authentication failed for user ci (tried the agent, /k); check that the key is in the host's authorized_keys.",
    );
    expect(auth.retryable).toBe(false);
    const unknown = hostKeyError(target, {
      kind: "unknown",
      fingerprint: "SHA256:abc",
      keyType: "ssh-ed25519",
      file: "/kh",
      otherTypes: [],
    });
    expect(unknown.message).toContain("SHA256:abc");
    for (const e of [refused, timeout, auth, unknown]) {
      oneSentence(e.message);
      expect(e.code).toBe("EXECUTOR_FAILED");
    }
  });
});
