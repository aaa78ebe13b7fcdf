/**
 * The SSH executor's infrastructure errors: one sentence each, naming the
 * host and the cause. `retryable` is true where another attempt (later, or
 * on another host of a pool) may help: unreachable hosts and lost
 * connections; false for what only the configuration can fix (host keys,
 * credentials, a host without tar).
 */
import { formatDuration } from "../../core/duration.js";
import { GantryError, coerceError } from "../../core/errors.js";
import type { HostTarget } from "./options.js";

export type HostKeyProblem =
  | {
      readonly kind: "unknown";
      readonly fingerprint: string;
      readonly keyType: string;
      readonly file: string;
      readonly otherTypes: readonly string[];
    }
  | {
      readonly kind: "changed" | "revoked";
      readonly fingerprint: string;
      readonly keyType: string;
      readonly file: string;
      readonly line: number;
    }
  | {
      readonly kind: "record-failed";
      readonly fingerprint: string;
      readonly keyType: string;
      readonly file: string;
      readonly message: string;
    };

function where(target: Pick<HostTarget, "label" | "host" | "port">): string {
  const address = `${target.host}:${target.port}`;
  return target.label === address || target.label === target.host ? `ssh host ${address}` : `ssh host ${target.label} (${address})`;
}

export function hostKeyError(target: Pick<HostTarget, "label" | "host" | "port">, problem: HostKeyProblem): GantryError {
  const key = `${problem.keyType} key ${problem.fingerprint}`;
  switch (problem.kind) {
    case "unknown":
      return new GantryError(
        "EXECUTOR_FAILED",
        `${where(target)}: host key is unknown: the server offered ${key}, which is not in ${problem.file}` +
          `${problem.otherTypes.length > 0 ? ` (it lists only ${problem.otherTypes.join(", ")} keys for this host)` : ""}; ` +
          `verify it and add it (ssh-keyscan), or set hostKeyPolicy: "accept-new".`,
      );
    case "changed":
      return new GantryError(
        "EXECUTOR_FAILED",
        `${where(target)}: host key has CHANGED: the server offered ${key}, but ${problem.file} line ${problem.line} holds another key for it; refusing to connect (someone may be intercepting the connection, or the host was reinstalled).`,
      );
    case "revoked":
      return new GantryError(
        "EXECUTOR_FAILED",
        `${where(target)}: host key ${problem.fingerprint} is marked @revoked in ${problem.file} line ${problem.line}; refusing to connect.`,
      );
    case "record-failed":
      return new GantryError(
        "EXECUTOR_FAILED",
        `${where(target)}: could not record the new ${key} in ${problem.file}: ${problem.message}.`,
      );
  }
}

const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: "connection refused (no SSH server listening on that port)",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed temporarily",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset during the handshake",
};

/** An error of `connect` (before the connection was ready). */
export function connectError(target: HostTarget, error: unknown, timeoutMs: number, tried: readonly string[]): GantryError {
  const err = coerceError(error) as Error & { level?: string; code?: string };
  if (err.level === "client-authentication") {
    return new GantryError(
      "EXECUTOR_FAILED",
      `${where(target)}: authentication failed for user ${target.user} (tried ${tried.join(", ") || "nothing"}); check that the key is in the host's authorized_keys.`,
      { cause: err },
    );
  }
  if (err.level === "client-timeout" || /timed out while waiting for handshake/i.test(err.message)) {
    return new GantryError(
      "EXECUTOR_FAILED",
      `${where(target)}: unreachable: no SSH handshake within ${formatDuration(timeoutMs)} (connectTimeout).`,
      { cause: err, retryable: true },
    );
  }
  const code = err.code;
  if (code !== undefined && code in UNREACHABLE) {
    return new GantryError("EXECUTOR_FAILED", `${where(target)}: unreachable: ${UNREACHABLE[code]}.`, { cause: err, retryable: true });
  }
  return new GantryError("EXECUTOR_FAILED", `${where(target)}: could not connect: ${err.message.replace(/\.$/, "")}.`, {
    cause: err,
    retryable: true,
  });
}

/** The connection ended while work was using it (host down, network cut, sshd killed). */
export function connectionLost(target: HostTarget, error?: Error): GantryError {
  const why = error ? `: ${error.message.replace(/\.$/, "")}` : "";
  return new GantryError(
    "EXECUTOR_FAILED",
    `${where(target)}: connection lost${why} (the host may be down); another attempt may run elsewhere.`,
    {
      cause: error,
      retryable: true,
    },
  );
}

export function noTarError(target: HostTarget): GantryError {
  return new GantryError(
    "EXECUTOR_FAILED",
    `${where(target)}: tar is not installed on the host; install it (it carries the repository and artifacts).`,
  );
}

/** A remote command of the executor itself failed (mkdir, cp, rm...). */
export function remoteCommandError(target: HostTarget, what: string, stderr: Buffer | string, code: number | null): GantryError {
  const text = stderr.toString().trim().split("\n").slice(-3).join(" ").slice(0, 300);
  return new GantryError("EXECUTOR_FAILED", `${where(target)}: ${what} failed (exit ${code ?? "by signal"})${text ? `: ${text}` : ""}.`, {
    retryable: true,
  });
}

export { where as describeHost };
