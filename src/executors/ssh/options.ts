/**
 * From the plan's executor options (already validated by the plan compiler)
 * plus `~/.ssh/config` to concrete connection targets. Pure: the caller reads
 * the files and passes their contents.
 */
import { posix } from "node:path";
import { parseDuration } from "../../core/duration.js";
import { GantryError } from "../../core/errors.js";
import { expandTokens, lookupHost, parseHostSpec } from "./config.js";
import type { SshConfigBlock } from "./config.js";

export type SshMode = "shared" | "dedicated" | "pool";

export interface ResolvedSshOptions {
  readonly name: string;
  /** Host specs as the user wrote them (aliases, `user@host:port`). */
  readonly hosts: readonly string[];
  readonly mode: SshMode;
  readonly user?: string;
  readonly port?: number;
  readonly identityFile?: string;
  /** `true`: SSH_AUTH_SOCK; a string: that socket; `false`: no agent. */
  readonly agent: string | boolean;
  readonly knownHosts: string;
  readonly hostKeyPolicy: "strict" | "accept-new";
  /** Remote directory for runs: absolute, or relative to the login directory. */
  readonly workspaceDir: string;
  readonly copyRepo: boolean;
  readonly maxJobsPerHost?: number;
  readonly connectTimeoutMs: number;
  /** 0 disables keepalives. */
  readonly keepaliveMs: number;
}

export const DEFAULT_WORKSPACE_DIR = ".gantry/work";
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_KEEPALIVE_MS = 15_000;

function fail(name: string, message: string): never {
  throw new GantryError("EXECUTOR_FAILED", `ssh executor "${name}": ${message}`);
}

function durationMs(name: string, field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  const ms = parseDuration(value);
  if (ms === undefined) fail(name, `${field} ${JSON.stringify(value)} is not a duration such as "10s"`);
  return ms;
}

/** Normalise the options of a plan entry; `home` expands `~` in local paths. */
export function resolveSshOptions(name: string, raw: Readonly<Record<string, unknown>>, home: string): ResolvedSshOptions {
  const str = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string") fail(name, `${key} must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const hosts: string[] = [];
  const host = str("host");
  if (host !== undefined) hosts.push(host);
  if (raw.hosts !== undefined) {
    if (!Array.isArray(raw.hosts) || raw.hosts.some((h) => typeof h !== "string" || h === ""))
      fail(name, "hosts must be a list of host names");
    for (const h of raw.hosts as string[]) if (!hosts.includes(h)) hosts.push(h);
  }
  if (hosts.length === 0) fail(name, "needs host or hosts");
  for (const h of hosts) {
    const spec = parseHostSpec(h);
    if ("error" in spec) fail(name, spec.error);
  }
  const mode = (raw.mode as SshMode | undefined) ?? (hosts.length > 1 ? "pool" : "shared");
  if (!["shared", "dedicated", "pool"].includes(mode))
    fail(name, `mode ${JSON.stringify(raw.mode)} is not "shared", "dedicated" or "pool"`);
  const policy = (raw.hostKeyPolicy as string | undefined) ?? "strict";
  if (policy !== "strict" && policy !== "accept-new") fail(name, `hostKeyPolicy ${JSON.stringify(policy)} is not "strict" or "accept-new"`);
  const agent = raw.agent ?? true;
  if (typeof agent !== "string" && typeof agent !== "boolean") fail(name, "agent must be true, false or a socket path");
  const tilde = (p: string): string => (p === "~" ? home : p.startsWith("~/") ? posix.join(home, p.slice(2)) : p);
  const workspaceDir = str("workspaceDir") ?? DEFAULT_WORKSPACE_DIR;
  if (workspaceDir === "" || workspaceDir.includes("\0")) fail(name, "workspaceDir is empty");
  if (workspaceDir === "/" || posix.normalize(workspaceDir) === "/")
    fail(name, `workspaceDir ${JSON.stringify(workspaceDir)} would put runs in the root directory`);
  const port = raw.port;
  if (port !== undefined && (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535))
    fail(name, `port ${JSON.stringify(port)} is not a port number`);
  const max = raw.maxJobsPerHost;
  if (max !== undefined && (typeof max !== "number" || !Number.isInteger(max) || max < 1))
    fail(name, `maxJobsPerHost ${JSON.stringify(max)} must be a whole number >= 1`);
  const identityFile = str("identityFile");
  const user = str("user");
  return {
    name,
    hosts,
    mode,
    agent: typeof agent === "string" ? tilde(agent) : agent,
    knownHosts: tilde(str("knownHosts") ?? "~/.ssh/known_hosts"),
    hostKeyPolicy: policy,
    workspaceDir: posix.normalize(workspaceDir).replace(/\/+$/, ""),
    copyRepo: raw.copyRepo === undefined ? true : raw.copyRepo === true,
    connectTimeoutMs: durationMs(name, "connectTimeout", raw.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS),
    keepaliveMs: durationMs(name, "keepalive", raw.keepalive, DEFAULT_KEEPALIVE_MS),
    ...(user !== undefined && { user }),
    ...(typeof port === "number" && { port }),
    ...(identityFile !== undefined && { identityFile: tilde(identityFile) }),
    ...(typeof max === "number" && { maxJobsPerHost: max }),
  };
}

/** One host to connect to. */
export interface HostTarget {
  /** What the user wrote (`build-1`, `ci@10.0.0.5:2222`): the name in messages and `hostOf`. */
  readonly label: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Private key files to try, in order (missing ones are skipped). */
  readonly identityFiles: readonly string[];
  /** Agent socket, when the agent is used. */
  readonly agent?: string;
}

/**
 * Where a job on `target` runs, for people: `ci@10.0.0.5:2222` when the user
 * wrote an address, `build-1 (ci@10.0.0.11:22)` for an alias.
 */
export function targetLocation(target: Pick<HostTarget, "label" | "host" | "port" | "user">): string {
  const address = `${target.user}@${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
  const bare = target.label.replace(/^[^@]*@/, "");
  const written = [target.host, `${target.host}:${target.port}`, `[${target.host}]:${target.port}`];
  return written.includes(bare) ? address : `${target.label} (${address})`;
}

export interface LocalContext {
  readonly home: string;
  readonly localUser: string;
  /** SSH_AUTH_SOCK, when set. */
  readonly authSock?: string;
}

const DEFAULT_IDENTITIES = ["~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"];

/**
 * A host spec resolved through `~/.ssh/config`. Explicit parts of the spec
 * (`user@`, `:port`) beat the executor options, which beat the config file
 * (as command-line options beat the config in OpenSSH).
 */
export function resolveTarget(
  spec: string,
  options: ResolvedSshOptions,
  config: readonly SshConfigBlock[],
  local: LocalContext,
): HostTarget {
  const parsed = parseHostSpec(spec);
  if ("error" in parsed) fail(options.name, parsed.error);
  const cfg = lookupHost(config, parsed.host);
  const user = parsed.user ?? options.user ?? cfg.user ?? local.localUser;
  const host = cfg.hostName ?? parsed.host;
  const port = parsed.port ?? options.port ?? cfg.port ?? 22;
  const ctx = { home: local.home, localUser: local.localUser, host, remoteUser: user };
  const explicit = options.identityFile !== undefined ? [options.identityFile] : cfg.identityFiles;
  const identityFiles = (explicit.length > 0 ? explicit : DEFAULT_IDENTITIES).map((f) => expandTokens(f, ctx));
  let agent: string | undefined;
  if (typeof options.agent === "string") agent = options.agent;
  else if (options.agent) {
    const fromConfig = cfg.identityAgent !== undefined && cfg.identityAgent !== "SSH_AUTH_SOCK" ? cfg.identityAgent : undefined;
    if (fromConfig?.toLowerCase() !== "none") agent = fromConfig !== undefined ? expandTokens(fromConfig, ctx) : local.authSock;
  }
  return {
    label: spec,
    host,
    port,
    user,
    identityFiles,
    ...(agent !== undefined && agent !== "" && { agent }),
  };
}
