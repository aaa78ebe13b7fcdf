/**
 * The repositories a server runs workflows of, and how a run pins a commit:
 * a bare mirror per repository under `<data>/mirrors/<name>.git` (cloned once,
 * fetched before each resolve), the ref resolved to a commit (default: the
 * remote's default branch), the commit's tree unpacked once per tree under
 * `<data>/trees/<tree>` to load `.gantry/*.ts` from, and the repository
 * snapshot: a tar of the tree stored as a content-addressed blob, once per
 * tree. Operations on one repository are serialised in this process; git's
 * own locks cover several processes on one data dir.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import { pipeline } from "node:stream/promises";
import { GantryError } from "../../core/errors.js";
import { extractTar } from "../../executors/shared/tar-local.js";
import type { Store } from "../../store/store.js";
import { git, gitArchive } from "./git.js";

export interface RepoSpec {
  /** `default`, or the NAME of `--repo NAME=PATH|URL`. */
  readonly name: string;
  /** An absolute path, or a file://, git://, ssh:// or http(s):// URL. */
  readonly source: string;
}

export interface PinnedCommit {
  readonly repo: string;
  /** The ref as asked (or the default branch's name). */
  readonly ref: string;
  readonly commit: string;
  readonly tree: string;
}

export interface CheckedOutTree extends PinnedCommit {
  /** The tree unpacked (read-only by convention): load workflows from here. */
  readonly dir: string;
  /** Blob hash of the tar of the tree. */
  readonly snapshot: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Parse `NAME=PATH|URL` (a relative path is taken from `cwd`). */
export function parseRepoFlag(value: string, cwd: string): RepoSpec {
  const eq = value.indexOf("=");
  const name = eq < 0 ? "" : value.slice(0, eq);
  const source = eq < 0 ? "" : value.slice(eq + 1);
  if (!NAME.test(name) || source === "")
    throw new GantryError("USAGE", `--repo ${value}: expected NAME=PATH or NAME=URL with a name of letters, digits, ".", "_" or "-"`);
  return { name, source: /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || isAbsolute(source) ? source : resolvePath(cwd, source) };
}

export class RepoRegistry {
  private readonly byName = new Map<string, RepoSpec>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    specs: readonly RepoSpec[],
    private readonly dataDir: string,
    private readonly store: Store,
  ) {
    for (const spec of specs) {
      if (this.byName.has(spec.name)) throw new GantryError("USAGE", `--repo ${spec.name}: the name is used twice`);
      this.byName.set(spec.name, spec);
    }
  }

  list(): RepoSpec[] {
    return [...this.byName.values()];
  }

  get(name: string): RepoSpec | undefined {
    return this.byName.get(name);
  }

  private spec(name: string): RepoSpec {
    const spec = this.byName.get(name);
    if (!spec) throw new GantryError("USAGE", `no repository named "${name}" (known: ${[...this.byName.keys()].join(", ") || "none"})`);
    return spec;
  }

  private gitDir(name: string): string {
    return join(this.dataDir, "mirrors", `${name}.git`);
  }

  /** Run `fn` after the previous operation on the same repository. */
  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    this.locks.set(
      name,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Fetch the mirror (cloning it the first time) and resolve `ref` (default: the default branch) to a commit. */
  async resolve(name: string, ref?: string): Promise<PinnedCommit> {
    const spec = this.spec(name);
    return this.serial(name, async () => {
      const dir = this.gitDir(name);
      const what = `repository "${name}" (${spec.source})`;
      if (!existsSync(join(dir, "HEAD"))) {
        await mkdir(join(this.dataDir, "mirrors"), { recursive: true });
        const tmp = `${dir}.tmp-${process.pid}`;
        await rm(tmp, { recursive: true, force: true });
        await git(["clone", "--mirror", "--quiet", spec.source, tmp], { what });
        await rename(tmp, dir).catch(async (error: unknown) => {
          // Another process cloned it first: use theirs.
          await rm(tmp, { recursive: true, force: true });
          if (!existsSync(join(dir, "HEAD"))) throw error;
        });
      } else {
        await git(["--git-dir", dir, "fetch", "--prune", "--quiet", "origin"], { what });
      }
      let wanted = ref;
      if (wanted === undefined) {
        const head = await git(["--git-dir", dir, "ls-remote", "--symref", "origin", "HEAD"], { what });
        const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(head);
        wanted = m?.[1] ?? (await git(["--git-dir", dir, "symbolic-ref", "--short", "HEAD"], { what })).trim();
      }
      if (!/^[A-Za-z0-9._/-]+$/.test(wanted) || wanted.startsWith("-"))
        throw new GantryError("USAGE", `ref "${wanted}" of ${what} is not a valid branch, tag or commit name`);
      const commit = (
        await git(["--git-dir", dir, "rev-parse", "--verify", "--quiet", `${wanted}^{commit}`], { what }).catch(() => "")
      ).trim();
      if (!commit) throw new GantryError("USAGE", `${what} has no branch, tag or commit "${wanted}"`);
      const tree = (await git(["--git-dir", dir, "rev-parse", `${commit}^{tree}`], { what })).trim();
      return { repo: name, ref: wanted, commit, tree };
    });
  }

  /**
   * Files that differ between two commits of the mirror (`since`: from their
   * merge base, like `git diff a...b`), renames as a removal and an addition;
   * undefined when git cannot tell (a commit is not in the mirror).
   */
  changedFiles(name: string, from: string, to: string, options: { since?: boolean } = {}): Promise<string[] | undefined> {
    const spec = this.spec(name);
    const revision = /^[A-Za-z0-9._/-]+$/;
    if (!revision.test(from) || !revision.test(to) || from.startsWith("-") || to.startsWith("-")) return Promise.resolve(undefined);
    return this.serial(name, async () => {
      const range = options.since ? [`${from}...${to}`] : [from, to];
      const out = await git(["--git-dir", this.gitDir(name), "diff", "--name-only", "--no-renames", "-z", ...range, "--"], {
        what: `repository "${name}" (${spec.source})`,
      }).catch(() => undefined);
      return out === undefined ? undefined : out.split("\0").filter((f) => f !== "");
    });
  }

  /** The commit's tree unpacked under the data dir and its snapshot blob, both made once per tree. */
  checkout(pinned: PinnedCommit): Promise<CheckedOutTree> {
    return this.serial(pinned.repo, async () => {
      const trees = join(this.dataDir, "trees");
      const dir = join(trees, pinned.tree);
      const marker = join(trees, `${pinned.tree}.snapshot`);
      const known = existsSync(marker) ? (await readFile(marker, "utf8")).trim() : undefined;
      if (known && existsSync(dir) && (await this.store.artifacts.blobPath(known))) return { ...pinned, dir, snapshot: known };
      await mkdir(trees, { recursive: true });
      const tar = join(trees, `.${pinned.tree}.tar.tmp-${process.pid}`);
      try {
        // The tree (not the commit): the same tree always makes the same tar, whatever commit it came from.
        await gitArchive(this.gitDir(pinned.repo), pinned.tree, tar, `repository "${pinned.repo}"`);
        const hash = createHash("sha256");
        await pipeline(createReadStream(tar), hash);
        const snapshot = hash.digest("hex");
        await this.store.artifacts.putBlob(snapshot, tar);
        if (!existsSync(dir)) {
          const tmpDir = `${dir}.tmp-${process.pid}`;
          await rm(tmpDir, { recursive: true, force: true });
          await mkdir(tmpDir, { recursive: true });
          await extractTar(createReadStream(tar), tmpDir, ".");
          await rename(tmpDir, dir).catch(() => rm(tmpDir, { recursive: true, force: true }));
        }
        await writeFile(marker, `${snapshot}\n`);
        return { ...pinned, dir, snapshot };
      } finally {
        await rm(tar, { force: true });
      }
    });
  }
}
