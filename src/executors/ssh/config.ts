/**
 * A small reader of OpenSSH client config (`~/.ssh/config`), enough for
 * users' existing host aliases to work: `Host` blocks with patterns
 * (`*`, `?`, `!negation`), and the keywords HostName, User, Port,
 * IdentityFile, IdentitiesOnly and IdentityAgent. As in OpenSSH, the first
 * value obtained for a keyword wins (IdentityFile accumulates). `Match` blocks
 * and `Include` are not followed. Pure: the caller reads the file.
 */

export interface SshConfigBlock {
  /** Patterns of the `Host` line; `["*"]` for the lines before the first `Host`. */
  readonly patterns: readonly string[];
  /** `Match` blocks are kept so their lines are not mistaken for another block's, and never apply. */
  readonly match: boolean;
  readonly options: ReadonlyArray<readonly [keyword: string, value: string]>;
}

/** Split a config line into keyword and arguments (`Key value`, `Key=value`, quoted arguments). */
function splitLine(line: string): { keyword: string; args: string[] } | undefined {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return undefined;
  const m = /^([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+)(.*)$/.exec(trimmed) ?? /^([A-Za-z][A-Za-z0-9]*)$/.exec(trimmed);
  if (!m) return undefined;
  const keyword = (m[1] ?? "").toLowerCase();
  const rest = m[2] ?? "";
  const args: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let a = re.exec(rest); a; a = re.exec(rest)) {
    const arg = a[1] ?? a[2] ?? "";
    if (a[2]?.startsWith("#")) break; // trailing comment
    args.push(arg);
  }
  return { keyword, args };
}

export function parseSshConfig(text: string): SshConfigBlock[] {
  const blocks: Array<{ patterns: string[]; match: boolean; options: Array<readonly [string, string]> }> = [
    { patterns: ["*"], match: false, options: [] },
  ];
  for (const raw of text.split(/\r?\n/)) {
    const parsed = splitLine(raw);
    if (!parsed) continue;
    if (parsed.keyword === "host") {
      blocks.push({ patterns: parsed.args, match: false, options: [] });
    } else if (parsed.keyword === "match") {
      blocks.push({ patterns: [], match: true, options: [] });
    } else {
      const block = blocks[blocks.length - 1]!;
      block.options.push([parsed.keyword, parsed.args.join(" ")] as const);
    }
  }
  return blocks;
}

/** OpenSSH's pattern match: `*` any run, `?` one character, case-insensitive. */
export function matchPattern(pattern: string, host: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return re.test(host);
}

/** Whether a `Host` line's patterns select `host`: one positive match and no negated one. */
export function blockMatches(patterns: readonly string[], host: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith("!")) {
      if (matchPattern(pattern.slice(1), host)) return false;
    } else if (matchPattern(pattern, host)) {
      matched = true;
    }
  }
  return matched;
}

export interface HostConfig {
  readonly hostName?: string;
  readonly user?: string;
  readonly port?: number;
  /** In the order written; `~` and `%` tokens still unexpanded. */
  readonly identityFiles: readonly string[];
  readonly identitiesOnly?: boolean;
  readonly identityAgent?: string;
}

/** The settings for `alias`, first value wins as in OpenSSH. */
export function lookupHost(blocks: readonly SshConfigBlock[], alias: string): HostConfig {
  let hostName: string | undefined;
  let user: string | undefined;
  let port: number | undefined;
  let identitiesOnly: boolean | undefined;
  let identityAgent: string | undefined;
  const identityFiles: string[] = [];
  for (const block of blocks) {
    if (block.match || !blockMatches(block.patterns, alias)) continue;
    for (const [keyword, value] of block.options) {
      switch (keyword) {
        case "hostname":
          hostName ??= value;
          break;
        case "user":
          user ??= value;
          break;
        case "port": {
          const n = Number(value);
          if (port === undefined && Number.isInteger(n) && n >= 1 && n <= 65535) port = n;
          break;
        }
        case "identityfile":
          if (value !== "" && !identityFiles.includes(value)) identityFiles.push(value);
          break;
        case "identitiesonly":
          identitiesOnly ??= value.toLowerCase() === "yes";
          break;
        case "identityagent":
          identityAgent ??= value;
          break;
        default:
          break;
      }
    }
  }
  return {
    identityFiles,
    ...(hostName !== undefined && { hostName: hostName.replace(/%h/g, alias) }),
    ...(user !== undefined && { user }),
    ...(port !== undefined && { port }),
    ...(identitiesOnly !== undefined && { identitiesOnly }),
    ...(identityAgent !== undefined && { identityAgent }),
  };
}

/** Expand `~` and the `%d %u %h %r %%` tokens of IdentityFile/IdentityAgent values. */
export function expandTokens(value: string, ctx: { home: string; localUser: string; host: string; remoteUser: string }): string {
  const tilde = value === "~" ? ctx.home : value.startsWith("~/") ? `${ctx.home}${value.slice(1)}` : value;
  return tilde.replace(/%([duhr%])/g, (_, t: string) => {
    switch (t) {
      case "d":
        return ctx.home;
      case "u":
        return ctx.localUser;
      case "h":
        return ctx.host;
      case "r":
        return ctx.remoteUser;
      default:
        return "%";
    }
  });
}

export interface HostSpec {
  readonly user?: string;
  readonly host: string;
  readonly port?: number;
}

/**
 * `[user@]host[:port]`, with `[v6addr]:port` for IPv6. Returns an error
 * message instead when the spec is malformed.
 */
export function parseHostSpec(spec: string): HostSpec | { error: string } {
  const at = spec.lastIndexOf("@");
  const user = at > 0 ? spec.slice(0, at) : undefined;
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  let host = rest;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracket) {
    host = bracket[1] ?? "";
    portText = bracket[2];
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    [host = "", portText] = rest.split(":");
  }
  if (host === "" || /\s/.test(host)) return { error: `host ${JSON.stringify(spec)} is not a host name` };
  if (portText !== undefined) {
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535)
      return { error: `host ${JSON.stringify(spec)} has an invalid port ${JSON.stringify(portText)}` };
    return { host, port, ...(user !== undefined && { user }) };
  }
  return { host, ...(user !== undefined && { user }) };
}
