/**
 * `gantry server` (serve the API with embedded workers) and
 * `gantry server token create|list|revoke` (work on the store directly,
 * whether or not a server runs). Every flag has a `GANTRY_*` equivalent.
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { GantryError } from "../core/errors.js";
import { createToken, isRole, parseExpiry, revokeToken } from "../server/auth.js";
import { parseRepoFlag, type RepoSpec } from "../server/git/repos.js";
import { parseHookSettings } from "../server/hooks/config.js";
import { createLogger } from "../server/logger.js";
import { startServer, type RunningServer } from "../server/serve.js";
import { openStore, stateDirOf } from "../store/open.js";
import type { CliIo } from "./io.js";
import { formatTime, renderTable } from "./runs.js";
import { repoDirOf } from "./workflows.js";

interface ServerFlags {
  dir?: string;
  listen: string;
  data?: string;
  repo: string[];
  workers?: number;
  drainTimeout: number;
  metricsPublic?: boolean;
  cors: string[];
  hookSecret: string[];
  statusTokenFile: string[];
  statusUrl: string[];
}

const wholeNumber =
  (flag: string) =>
  (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${flag}: expected a whole number >= 0, got "${value}"`);
    return Number(value);
  };

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(",").filter(Boolean)];

function dataDirOf(o: { dir?: string; data?: string }): string {
  return o.data ? resolve(o.data) : stateDirOf(repoDirOf(o));
}

/** Serve until SIGTERM/SIGINT: the first stops gracefully, the second forces. */
async function serverCommand(o: ServerFlags, io: CliIo): Promise<number> {
  const repoDir = repoDirOf(o);
  const repos: RepoSpec[] = [{ name: "default", source: repoDir }];
  for (const flag of o.repo) {
    const spec = parseRepoFlag(flag, process.cwd());
    if (spec.name === "default") repos[0] = spec;
    else repos.push(spec);
  }
  const hooks = parseHookSettings(
    { hookSecret: o.hookSecret, statusTokenFile: o.statusTokenFile, statusUrl: o.statusUrl },
    repos.map((r) => r.name),
  );
  const logger = createLogger();
  // Signals are trapped before the server starts: a SIGTERM during start-up stops it once it is up.
  let signals = 0;
  let wake: () => void = () => undefined;
  const signalled = new Promise<void>((r) => (wake = r));
  const onSignal = (name: NodeJS.Signals): void => {
    signals += 1;
    logger.info({ signal: name }, signals === 1 ? "stopping: draining (again to force)" : "stopping now");
    if (signals > 1) void running?.then((s) => s.stop({ force: true }));
    wake();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const running: Promise<RunningServer> | undefined = startServer({
    listen: o.listen,
    dataDir: dataDirOf(o),
    repos,
    workers: o.workers ?? availableParallelism(),
    drainTimeoutMs: o.drainTimeout * 1000,
    metricsPublic: o.metricsPublic === true,
    corsOrigins: o.cors,
    hooks,
    processHooks: process.env.GANTRY_HOOK_PROCESSING !== "off",
    env: process.env,
    logger,
    printToken: (text) => io.out(text),
  });
  try {
    const server = await running;
    await signalled;
    await server.stop({ force: signals > 1 });
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
  return 0;
}

export function registerServerCommands(program: Command, io: CliIo, done: (code: number) => void): void {
  const server = program
    .command("server")
    .description("serve the HTTP API (/api/v1) with a durable queue and embedded workers")
    .option("-C, --dir <dir>", "repository registered as `default` (default: the current directory)")
    .addOption(new Option("--listen <host:port>", "address to listen on").env("GANTRY_LISTEN").default("127.0.0.1:8080"))
    .addOption(new Option("--data <dir>", "data directory: SQLite file, blobs, mirrors (default: <repo>/.gantry/state)").env("GANTRY_DATA"))
    .addOption(
      new Option("--repo <name=path|url>", "register another repository (repeatable; env: comma-separated)")
        .env("GANTRY_REPOS")
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option("--workers <n>", "embedded workers (default: the CPU count; 0 = none)")
        .env("GANTRY_WORKERS")
        .argParser(wholeNumber("--workers")),
    )
    .addOption(
      new Option("--drain-timeout <seconds>", "on SIGTERM, how long running jobs may finish before they are cancelled")
        .env("GANTRY_DRAIN_TIMEOUT")
        .argParser(wholeNumber("--drain-timeout"))
        .default(60),
    )
    .addOption(new Option("--metrics-public", "serve /metrics without a token").env("GANTRY_METRICS_PUBLIC"))
    .addOption(
      new Option("--cors <origin>", "allow this origin with CORS (repeatable; default: no CORS)")
        .env("GANTRY_CORS")
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option("--hook-secret <name=file>", "accept webhooks for repository NAME, signed with the secret in FILE (repeatable)")
        .env("GANTRY_HOOK_SECRETS")
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option("--status-token-file <name=file>", "report commit statuses of NAME's webhook runs with the API token in FILE (repeatable)")
        .env("GANTRY_STATUS_TOKEN_FILES")
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option("--status-url <name=url>", "the forge API root for NAME's commit statuses (default: GitHub's, or the payload's instance)")
        .env("GANTRY_STATUS_URLS")
        .argParser(collect)
        .default([]),
    )
    .addHelpText(
      "after",
      `\nExamples:\n  $ gantry server\n  $ gantry server --listen 0.0.0.0:8080 --repo app=https://example.com/app.git --workers 4\n  $ GANTRY_DATABASE_URL=postgres://... gantry server --data /var/lib/gantry\n`,
    )
    .action(async (o: ServerFlags) => done(await serverCommand(o, io)));

  const token = server.command("token").description("create, list and revoke API tokens (on the store; no server needed)");
  const dataOption = (cmd: Command): Command =>
    cmd
      .option("-C, --dir <dir>", "repository directory (default: the current directory)")
      .addOption(new Option("--data <dir>", "data directory (default: <repo>/.gantry/state)").env("GANTRY_DATA"));

  dataOption(token.command("create"))
    .description("create a token and print it (only the token, once)")
    .requiredOption("--role <role>", "admin, operator or viewer")
    .requiredOption("--name <name>", "what the token is for")
    .option("--expires <duration>", "lifetime, like 30d, 12h or 1y (default: no expiry)")
    .action(async (o: { dir?: string; data?: string; role: string; name: string; expires?: string }) => {
      if (!isRole(o.role)) throw new GantryError("USAGE", `--role ${o.role}: expected admin, operator or viewer`);
      const expiresInMs = o.expires === undefined ? undefined : parseExpiry(o.expires);
      const store = await openStore({ repoDir: dataDirOf(o), stateDir: dataDirOf(o), skipRecovery: true });
      try {
        const { token: value } = await createToken(store, {
          role: o.role,
          name: o.name,
          actor: "cli",
          ...(expiresInMs !== undefined ? { expiresInMs } : {}),
        });
        io.out(value);
      } finally {
        await store.close();
      }
      done(0);
    });

  dataOption(token.command("list"))
    .description("list tokens (id, name, role, created, expires, revoked)")
    .option("--json", "print JSON")
    .action(async (o: { dir?: string; data?: string; json?: boolean }) => {
      const store = await openStore({ repoDir: dataDirOf(o), stateDir: dataDirOf(o), skipRecovery: true });
      try {
        const tokens = await store.tokens.list();
        if (o.json) io.out(JSON.stringify(tokens, null, 2));
        else if (tokens.length === 0) io.out("no tokens");
        else
          io.out(
            renderTable(
              ["ID", "NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED"],
              tokens.map((t) => [
                t.id,
                t.name,
                t.role,
                formatTime(t.createdAt),
                t.expiresAt === null ? "never" : formatTime(t.expiresAt),
                t.revokedAt === null ? "" : formatTime(t.revokedAt),
              ]),
            ).join("\n"),
          );
      } finally {
        await store.close();
      }
      done(0);
    });

  dataOption(token.command("revoke <id>"))
    .description("revoke a token at once")
    .action(async (id: string, o: { dir?: string; data?: string }) => {
      const store = await openStore({ repoDir: dataDirOf(o), stateDir: dataDirOf(o), skipRecovery: true });
      try {
        if (!(await revokeToken(store, id, "cli")))
          throw new GantryError("USAGE", `no token with id "${id}"; see gantry server token list`);
        io.out(`revoked ${id}`);
      } finally {
        await store.close();
      }
      done(0);
    });
}
