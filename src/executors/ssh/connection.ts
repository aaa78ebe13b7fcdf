/**
 * One SSH connection (ssh2): connecting with host key checks and
 * authentication, channels with a per-connection limit, and small buffered
 * commands. Errors become one-sentence `GantryError`s naming the host
 * (`errors.ts`).
 */
import { appendFile, chmod, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import ssh2 from "ssh2";
import type { AnyAuthMethod, AuthenticationType, ClientChannel, ConnectConfig, NextAuthHandler, ServerHostKeyAlgorithm } from "ssh2";
import { GantryError, coerceError } from "../../core/errors.js";
import { CONTROL_COMMAND } from "./command.js";
import { connectError, connectionLost, hostKeyError } from "./errors.js";
import type { HostKeyProblem } from "./errors.js";
import {
  checkHostKey,
  fingerprint,
  hostKeyAlgorithmOrder,
  keyTypeOf,
  knownHostName,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
} from "./known-hosts.js";
import type { HostTarget } from "./options.js";

const { Client, utils } = ssh2;

/** Host key algorithms ssh2 can verify. */
const SUPPORTED_HOST_KEY_ALGOS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
  "ssh-dss",
];

/**
 * OpenSSH allows 10 sessions per connection (`MaxSessions`). Ordinary
 * channels use at most 8; kill and cleanup channels may use the last two, so
 * a cancel always gets through even when every slot runs a long step.
 */
const MAX_CHANNELS = 8;
const MAX_CHANNELS_CONTROL = 10;

export interface ConnectOptions {
  readonly target: HostTarget;
  readonly knownHosts: string;
  readonly hostKeyPolicy: "strict" | "accept-new";
  readonly connectTimeoutMs: number;
  readonly keepaliveMs: number;
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

interface Waiter {
  readonly control: boolean;
  readonly resolve: () => void;
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Auth methods in OpenSSH's order: agent first, then key files. Encrypted keys need the agent. */
async function authMethods(target: HostTarget): Promise<{ methods: AnyAuthMethod[]; tried: string[] }> {
  const methods: AnyAuthMethod[] = [];
  const tried: string[] = [];
  if (target.agent !== undefined) {
    methods.push({ type: "agent", username: target.user, agent: target.agent });
    tried.push("the agent");
  }
  for (const file of target.identityFiles) {
    const data = await readOptional(file).catch(() => undefined);
    if (data === undefined) continue;
    const key = utils.parseKey(data);
    if (key instanceof Error) {
      tried.push(/encrypt/i.test(key.message) ? `${file} (encrypted: load it into the agent)` : `${file} (unreadable: ${key.message})`);
      continue;
    }
    methods.push({ type: "publickey", username: target.user, key });
    tried.push(file);
  }
  return { methods, tried };
}

const exits = new WeakMap<ClientChannel, { readonly code: number | null; readonly signal: string | null }>();

/** The exit status a channel opened by `SshConnection.exec` reported, also when it came before any listener. */
export function exitOf(channel: ClientChannel): { readonly code: number | null; readonly signal: string | null } | undefined {
  return exits.get(channel);
}

export class SshConnection {
  private readonly client: InstanceType<typeof Client>;
  private openChannels = 0;
  private readonly waiters: Waiter[] = [];
  private lost: GantryError | undefined;
  private readonly closeListeners = new Set<(error: GantryError) => void>();
  private ended = false;
  private control: Promise<ClientChannel> | undefined;

  private constructor(
    client: InstanceType<typeof Client>,
    readonly target: HostTarget,
  ) {
    this.client = client;
    const onGone = (error?: Error): void => {
      if (this.lost) return;
      this.lost = connectionLost(target, this.ended ? undefined : error);
      for (const waiter of this.waiters.splice(0)) waiter.resolve();
      for (const listener of this.closeListeners) listener(this.lost);
    };
    client.on("error", (error: Error) => onGone(error));
    client.on("close", () => onGone());
    client.on("end", () => onGone());
  }

  /** Connect, check the host key, authenticate. Rejects with a one-sentence `GantryError`. */
  static async connect(options: ConnectOptions): Promise<SshConnection> {
    const { target } = options;
    const name = knownHostName(target.host, target.port);
    const knownText = (await readOptional(options.knownHosts))?.toString("utf8") ?? "";
    const entries = parseKnownHosts(knownText);
    const knownTypes = knownKeyTypes(entries, name);
    const algorithms = hostKeyAlgorithmOrder(
      knownTypes,
      SUPPORTED_HOST_KEY_ALGOS.filter((a) => a !== "ssh-dss" || knownTypes.includes(a)),
    );
    const { methods, tried } = await authMethods(target);
    if (methods.length === 0) {
      throw new GantryError(
        "EXECUTOR_FAILED",
        `ssh host ${target.label}: no usable credentials for ${target.user}@${target.host} (no agent and no key file among ${target.identityFiles.join(", ") || "none"}${tried.length > 0 ? `; ${tried.join(", ")}` : ""})`,
      );
    }

    let problem: HostKeyProblem | undefined;
    const client = new Client();
    const hostVerifier = (key: Buffer, verify: (valid: boolean) => void): void => {
      const type = keyTypeOf(key);
      const check = checkHostKey(entries, name, type, key.toString("base64"));
      const fp = fingerprint(key);
      if (check.status === "known") return verify(true);
      if (check.status === "unknown" && options.hostKeyPolicy === "accept-new") {
        const file = options.knownHosts;
        mkdir(dirname(file), { recursive: true, mode: 0o700 })
          .then(async () => {
            const existed = (await readOptional(file)) !== undefined;
            const text = (await readOptional(file))?.toString("utf8") ?? "";
            const sep = text.length > 0 && !text.endsWith("\n") ? "\n" : "";
            await appendFile(file, sep + knownHostsLine(name, key));
            if (!existed) await chmod(file, 0o600);
            verify(true);
          })
          .catch((error: unknown) => {
            problem = { kind: "record-failed", fingerprint: fp, keyType: type, file, message: coerceError(error).message };
            verify(false);
          });
        return;
      }
      problem =
        check.status === "unknown"
          ? { kind: "unknown", fingerprint: fp, keyType: type, file: options.knownHosts, otherTypes: check.otherTypes }
          : { kind: check.status, fingerprint: fp, keyType: type, file: options.knownHosts, line: check.line };
      verify(false);
    };

    const authQueue = [...methods];
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: options.connectTimeoutMs,
      keepaliveInterval: options.keepaliveMs,
      keepaliveCountMax: 3,
      hostVerifier,
      authHandler: (_left: AuthenticationType[], _partial: boolean | null, next: NextAuthHandler) =>
        next(authQueue.shift() ?? (false as unknown as AnyAuthMethod)),
      algorithms: { serverHostKey: algorithms as ServerHostKeyAlgorithm[] },
    };

    return await new Promise<SshConnection>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        client.removeAllListeners();
        client.on("error", () => undefined);
        client.end();
        reject(problem ? hostKeyError(target, problem) : connectError(target, error, options.connectTimeoutMs, tried));
      };
      client.once("ready", () => {
        if (settled) return;
        settled = true;
        // Small request/response exchanges: Nagle's algorithm would add ~40 ms to each channel open.
        client.setNoDelay(true);
        client.removeAllListeners("ready");
        client.removeAllListeners("error");
        client.removeAllListeners("close");
        resolve(new SshConnection(client, target));
      });
      client.on("error", fail);
      client.on("close", () => fail(new Error("connection closed during the handshake")));
      try {
        client.connect(config);
      } catch (error) {
        fail(coerceError(error));
      }
    });
  }

  /** The error that ended the connection, once it ended. */
  get error(): GantryError | undefined {
    return this.lost;
  }

  /** Whether `close()` ended it (rather than the host or the network). */
  get closedByUs(): boolean {
    return this.ended;
  }

  get closed(): boolean {
    return this.lost !== undefined;
  }

  /** Called once when the connection ends (lost or closed). Returns an unsubscribe. */
  onClose(listener: (error: GantryError) => void): () => void {
    if (this.lost) {
      listener(this.lost);
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  private async acquire(control: boolean): Promise<void> {
    for (;;) {
      if (this.lost) throw this.lost;
      if (this.openChannels < (control ? MAX_CHANNELS_CONTROL : MAX_CHANNELS)) {
        this.openChannels++;
        return;
      }
      await new Promise<void>((resolve) => this.waiters.push({ control, resolve }));
    }
  }

  private release(): void {
    this.openChannels--;
    // Control waiters first: they are what unblocks stuck work.
    const i = this.waiters.findIndex((w) => w.control);
    const waiter = i >= 0 ? this.waiters.splice(i, 1)[0] : this.waiters.shift();
    waiter?.resolve();
  }

  /**
   * Open an exec channel for `command`. The slot is released when the
   * channel closes. `control` channels may use the reserved slots.
   */
  async exec(command: string, control = false): Promise<ClientChannel> {
    await this.acquire(control);
    return await new Promise<ClientChannel>((resolve, reject) => {
      const done = (error: Error | undefined, channel?: ClientChannel): void => {
        if (error || !channel) {
          this.release();
          reject(
            this.lost ??
              new GantryError("EXECUTOR_FAILED", `ssh host ${this.target.label}: could not open a channel: ${coerceError(error).message}`, {
                cause: error,
                retryable: true,
              }),
          );
          return;
        }
        // ssh2 may emit "exit" before the caller's listeners are attached (a command that ends at once, its
        // exit-status in the same packet batch as the exec reply): remember it for `exitOf`.
        channel.once("exit", (code: number | null, signal?: string) => exits.set(channel, { code, signal: signal ?? null }));
        let released = false;
        channel.once("close", () => {
          if (released) return;
          released = true;
          this.release();
        });
        resolve(channel);
      };
      try {
        this.client.exec(command, done);
      } catch (error) {
        done(coerceError(error));
      }
    });
  }

  /**
   * Run a command to completion and collect its output (for small outputs).
   * `stdin` is written and ended (nothing: stdin is closed at once).
   */
  async run(command: string, options: { stdin?: Buffer | string | Readable; control?: boolean } = {}): Promise<CommandResult> {
    const channel = await this.exec(command, options.control ?? false);
    return await new Promise<CommandResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | null = null;
      let signal: string | null = null;
      let exited = false;
      channel.on("data", (chunk: Buffer) => out.push(chunk));
      channel.stderr.on("data", (chunk: Buffer) => err.push(chunk));
      channel.on("exit", (c: number | null, s?: string) => {
        exited = true;
        code = c;
        signal = s ?? null;
      });
      channel.on("close", () => {
        const early = exited ? undefined : exitOf(channel);
        if (early) {
          exited = true;
          ({ code, signal } = early);
        }
        if (!exited && this.lost) return reject(this.lost);
        resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
      });
      const stdin = options.stdin;
      if (stdin === undefined || typeof stdin === "string" || Buffer.isBuffer(stdin)) {
        channel.end(stdin);
      } else {
        stdin.on("error", () => channel.close());
        stdin.pipe(channel);
      }
    });
  }

  private controlChannel(): Promise<ClientChannel> {
    if (!this.control) {
      const opening = this.exec(CONTROL_COMMAND, true).then((channel) => {
        channel.on("data", () => undefined);
        channel.stderr.on("data", () => undefined);
        channel.once("close", () => {
          if (this.control === opening) this.control = undefined;
        });
        return channel;
      });
      opening.catch(() => {
        if (this.control === opening) this.control = undefined;
      });
      this.control = opening;
    }
    return this.control;
  }

  /**
   * Run a line of shell code in the connection's control shell (kills:
   * see `reapLine`). Fire and forget: resolves once the line is sent.
   */
  async sendControl(line: string): Promise<void> {
    const channel = await this.controlChannel();
    channel.write(line.endsWith("\n") ? line : `${line}\n`);
  }

  /** Open the control shell now, so a later kill needs no free channel slot. */
  async prepareControl(): Promise<void> {
    await this.controlChannel();
  }

  /** Close the connection (idempotent). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.client.end();
  }
}
