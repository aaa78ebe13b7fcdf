/**
 * Finding and connecting to a container engine (Docker, or Podman's
 * Docker-compatible API) over the Docker Engine HTTP API.
 *
 * Order: the `engine` option, else `DOCKER_HOST`, else
 * `/var/run/docker.sock`, else Podman's rootful socket
 * (`/run/podman/podman.sock`), else its rootless one
 * (`$XDG_RUNTIME_DIR/podman/podman.sock`). The first that answers `/_ping`
 * wins; every skipped candidate keeps its reason (for `gantry doctor`).
 *
 * `engine` may be `docker`, `podman`, a socket path, `unix:///path` or
 * `tcp://host:port` / `http://host:port`. An explicit engine, and a set
 * `DOCKER_HOST` (as for the docker CLI), that does not answer is an error:
 * there is no fallback to another one, which could run the jobs elsewhere.
 */
import { stat } from "node:fs/promises";
import Docker from "dockerode";
import { GantryError, coerceError } from "../../core/errors.js";

export type EngineKind = "docker" | "podman";

export interface EngineCandidate {
  /** Where it came from: `option`, `DOCKER_HOST`, `default`, `podman (rootful)`, `podman (rootless)`. */
  readonly source: string;
  /** `unix:///path` or `tcp://host:port`. */
  readonly address: string;
}

export interface EngineProbe extends EngineCandidate {
  readonly ok: boolean;
  readonly kind?: EngineKind;
  readonly version?: string;
  readonly apiVersion?: string;
  /** Why it was skipped: missing, permission denied, not running, ... */
  readonly reason?: string;
}

export interface Engine {
  readonly docker: Docker;
  readonly kind: EngineKind;
  readonly version: string;
  readonly address: string;
  /** Whether the engine runs on this machine (a unix socket): bind mounts of runner paths work. */
  readonly local: boolean;
}

function podmanCandidates(env: NodeJS.ProcessEnv): EngineCandidate[] {
  const out: EngineCandidate[] = [{ source: "podman (rootful)", address: "unix:///run/podman/podman.sock" }];
  if (env.XDG_RUNTIME_DIR) out.push({ source: "podman (rootless)", address: `unix://${env.XDG_RUNTIME_DIR}/podman/podman.sock` });
  return out;
}

function normaliseAddress(value: string): string {
  if (value.startsWith("/")) return `unix://${value}`;
  return value;
}

/** The candidates to try, in order, for an `engine` option (or none) and an environment. Pure. */
export function engineCandidates(engine: string | undefined, env: NodeJS.ProcessEnv = process.env): EngineCandidate[] {
  if (engine === "podman") return podmanCandidates(env).map((c) => ({ ...c, source: `option (${c.source})` }));
  if (engine === "docker") {
    return [
      {
        source: env.DOCKER_HOST ? "option (DOCKER_HOST)" : "option (docker)",
        address: normaliseAddress(env.DOCKER_HOST || "unix:///var/run/docker.sock"),
      },
    ];
  }
  if (engine !== undefined && engine !== "") return [{ source: "option", address: normaliseAddress(engine) }];
  if (env.DOCKER_HOST) return [{ source: "DOCKER_HOST", address: normaliseAddress(env.DOCKER_HOST) }];
  const out: EngineCandidate[] = [{ source: "default", address: "unix:///var/run/docker.sock" }, ...podmanCandidates(env)];
  const seen = new Set<string>();
  return out.filter((c) => (seen.has(c.address) ? false : (seen.add(c.address), true)));
}

/** A dockerode client for an address. */
export function clientFor(address: string, timeoutMs?: number): Docker {
  const common = timeoutMs !== undefined ? { timeout: timeoutMs } : {};
  if (address.startsWith("unix://")) return new Docker({ socketPath: address.slice("unix://".length), ...common });
  const url = new URL(address.replace(/^tcp:/, "http:"));
  return new Docker({
    protocol: url.protocol === "https:" ? "https" : "http",
    host: url.hostname,
    port: Number(url.port || 2375),
    ...common,
  });
}

function describeFailure(address: string, error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  switch (err.code) {
    case "ENOENT":
      return "socket does not exist";
    case "EACCES":
    case "EPERM":
      return "permission denied on the socket";
    case "ECONNREFUSED":
      return address.startsWith("unix://") ? "not running (the socket refuses connections)" : "not running (connection refused)";
    case "ETIMEDOUT":
    case "ESOCKETTIMEDOUT":
      return "no answer (timed out)";
    default:
      return coerceError(error).message;
  }
}

/** Ask one candidate for its version. Never throws. */
export async function probeEngine(candidate: EngineCandidate, timeoutMs = 3_000): Promise<EngineProbe> {
  if (candidate.address.startsWith("unix://")) {
    try {
      await stat(candidate.address.slice("unix://".length));
    } catch (error) {
      return { ...candidate, ok: false, reason: describeFailure(candidate.address, error) };
    }
  }
  try {
    const docker = clientFor(candidate.address, timeoutMs);
    const version = (await docker.version()) as {
      Version?: string;
      ApiVersion?: string;
      Components?: Array<{ Name?: string; Version?: string }>;
    };
    const podman = (version.Components ?? []).find((c) => /podman/i.test(c.Name ?? ""));
    return {
      ...candidate,
      ok: true,
      kind: podman ? "podman" : "docker",
      version: podman?.Version ?? version.Version ?? "unknown",
      ...(version.ApiVersion !== undefined ? { apiVersion: version.ApiVersion } : {}),
    };
  } catch (error) {
    return { ...candidate, ok: false, reason: describeFailure(candidate.address, error) };
  }
}

/** Probe every candidate (for `gantry doctor`). */
export async function probeEngines(engine?: string, env: NodeJS.ProcessEnv = process.env): Promise<EngineProbe[]> {
  return Promise.all(engineCandidates(engine, env).map((c) => probeEngine(c)));
}

/** One sentence saying what was tried and what to do. */
export function noEngineMessage(probes: readonly EngineProbe[], explicit: string | undefined): string {
  const tried = probes.map((p) => `${p.address.replace(/^unix:\/\//, "")} (${p.source}): ${p.reason ?? "no answer"}`).join("; ");
  const denied = probes.some((p) => p.reason?.startsWith("permission denied"));
  const hint = denied
    ? "run as a user allowed to use the socket (e.g. in the docker group) or point DOCKER_HOST at one you may use"
    : explicit !== undefined
      ? `start that engine or change the executor's engine option (${JSON.stringify(explicit)})`
      : probes.length === 1 && probes[0]?.source === "DOCKER_HOST"
        ? "start that engine, or point DOCKER_HOST at one that runs (unset it to use the local sockets)"
        : "start Docker (dockerd) or Podman (`podman system service`), or set DOCKER_HOST";
  return `no container engine reachable: ${tried}; ${hint}`;
}

const cache = new Map<string, Promise<Engine>>();

/** Connect to the first engine that answers (cached per `engine` option for the process). */
export function connectEngine(engine?: string, env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const key = `${engine ?? ""}\0${env.DOCKER_HOST ?? ""}`;
  let found = cache.get(key);
  if (!found) {
    found = findEngine(engine, env);
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}

async function findEngine(engine: string | undefined, env: NodeJS.ProcessEnv): Promise<Engine> {
  const probes: EngineProbe[] = [];
  for (const candidate of engineCandidates(engine, env)) {
    const probe = await probeEngine(candidate);
    probes.push(probe);
    if (probe.ok) {
      return {
        docker: clientFor(probe.address),
        kind: probe.kind ?? "docker",
        version: probe.version ?? "unknown",
        address: probe.address,
        local: probe.address.startsWith("unix://"),
      };
    }
  }
  throw new GantryError("EXECUTOR_FAILED", noEngineMessage(probes, engine), { retryable: false });
}

/** `docker (20.10.24) at unix:///var/run/docker.sock`, for messages. */
export function describeEngine(engine: Pick<Engine, "kind" | "version" | "address">): string {
  return `${engine.kind} ${engine.version} at ${engine.address}`;
}

/** The message of an Engine API error (`(HTTP code 404) no such container - ...` → the JSON message). */
export function apiMessage(error: unknown): string {
  const e = error as { json?: { message?: string }; reason?: string; statusCode?: number; message?: string };
  const message = e.json?.message ?? e.message ?? String(error);
  return message.replace(/^\(HTTP code \d+\)\s*/, "").trim();
}

export function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}
