/**
 * From the plan's executor options (typed by `schema.ts`)
 * plus `~/.ssh/config` to concrete connection targets. Pure: the caller reads
 * the files and passes their contents.
 */
import { posix } from "node:path";
import { parseDuration } from "../../core/duration.js";
import { GantryError } from "../../core/errors.js";
import { parseExecutorOptions } from "../../core/executor-kind.js";
import { sshOptionsSchema, type SshExecutorOptions } from "./schema.js";
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

/**
 * The typed options of a plan entry (parsed by `sshOptionsSchema`, the one
 * the compiler checked them with) with defaults applied; `home` expands `~`
 * in local paths.
 */
export function resolveSshOptions(name: string, raw: Readonly<Record<string, unknown>>, home: string): ResolvedSshOptions {
  const o: SshExecutorOptions = parseExecutorOptions(sshOptionsSchema, { name, kind: "ssh", options: raw });
  const hosts: string[] = [];
  if (o.host !== undefined) hosts.push(o.host);
  for (const h of o.hosts ?? []) if (!hosts.includes(h)) hosts.push(h);
  const tilde = (p: string): string => (p === "~" ? home : p.startsWith("~/") ? posix.join(home, p.slice(2)) : p);
  const agent = o.agent ?? true;
  const duration = (value: string | undefined, fallback: number): number =>
    value === undefined ? fallback : (parseDuration(value) ?? fallback);
  return {
    name,
    hosts,
    mode: o.mode ?? (hosts.length > 1 ? "pool" : "shared"),
    agent: typeof agent === "string" ? tilde(agent) : agent,
    knownHosts: tilde(o.knownHosts ?? "~/.ssh/known_hosts"),
    hostKeyPolicy: o.hostKeyPolicy ?? "strict",
    workspaceDir: posix.normalize(o.workspaceDir ?? DEFAULT_WORKSPACE_DIR).replace(/\/+$/, ""),
    copyRepo: o.copyRepo !== false,
    connectTimeoutMs: duration(o.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS),
    keepaliveMs: duration(o.keepalive, DEFAULT_KEEPALIVE_MS),
    ...(o.user !== undefined && { user: o.user }),
    ...(o.port !== undefined && { port: o.port }),
    ...(o.identityFile !== undefined && { identityFile: tilde(o.identityFile) }),
    ...(o.maxJobsPerHost !== undefined && { maxJobsPerHost: o.maxJobsPerHost }),
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
