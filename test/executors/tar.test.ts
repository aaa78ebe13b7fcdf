import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import tarStream from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildTar, readTar, type TarFixtureEntry } from "gantry/testing";
import { extractTar, packPath } from "../../src/executors/shared/tar-local.js";

let root: string;
let outside: string;
beforeEach(() => {
  const top = mkdtempSync(join(tmpdir(), "gantry-tar-"));
  root = join(top, "job");
  outside = join(top, "outside");
  mkdirSync(root);
  mkdirSync(outside);
});
afterEach(() => rmSync(join(root, ".."), { recursive: true, force: true }));

const write = (rel: string, content: string, mode = 0o644): void => {
  mkdirSync(join(root, rel, ".."), { recursive: true });
  writeFileSync(join(root, rel), content);
  chmodSync(join(root, rel), mode);
};

describe("packPath", () => {
  it("names entries relative to the packed path and keeps modes, symlinks and empty dirs", async () => {
    write("dist/app.js", "app", 0o600);
    write("dist/bin/cli", "#!/bin/sh", 0o755);
    mkdirSync(join(root, "dist/empty"));
    symlinkSync("app.js", join(root, "dist/latest.js"));
    execFileSync("mkfifo", [join(root, "dist/fifo")]);
    const listing = await readTar(packPath(root, "dist"));
    expect([...listing.keys()]).toEqual([".", "app.js", "bin", "bin/cli", "empty", "latest.js"]);
    expect(listing.get("app.js")).toEqual({ type: "file", mode: 0o600, content: "app" });
    expect(listing.get("bin/cli")).toEqual({ type: "file", mode: 0o755, content: "#!/bin/sh" });
    expect(listing.get("latest.js")).toMatchObject({ type: "symlink", linkname: "app.js" });
  });

  it("streams large files", async () => {
    const big = Buffer.alloc(8 * 1024 * 1024 + 3, 0x61);
    writeFileSync(join(root, "big.bin"), big);
    await extractTar(packPath(root, "big.bin"), root, "copy.bin");
    expect(readFileSync(join(root, "copy.bin")).equals(big)).toBe(true);
  });

  it("follows a symlinked path that stays inside, refuses one that leaves", async () => {
    write("build/out/a.txt", "a");
    symlinkSync("build/out", join(root, "out"));
    symlinkSync(outside, join(root, "escape"));
    expect([...(await readTar(packPath(root, "out"))).keys()]).toEqual([".", "a.txt"]);
    await expect(readTar(packPath(root, "escape"))).rejects.toMatchObject({ code: "PATH_ESCAPE" });
    await expect(readTar(packPath(root, "missing"))).rejects.toMatchObject({ code: "ARTIFACT_INVALID" });
    await expect(readTar(packPath(root, "../outside"))).rejects.toMatchObject({ code: "PATH_ESCAPE" });
  });
});

describe("extractTar", () => {
  it("applies directory modes last, so read-only directories can be filled", async () => {
    await extractTar(
      buildTar([
        { name: "ro/", type: "directory", mode: 0o555 },
        { name: "ro/f.txt", content: "f" },
      ]),
      root,
      ".",
    );
    expect(statSync(join(root, "ro")).mode & 0o777).toBe(0o555);
    expect(readFileSync(join(root, "ro/f.txt"), "utf8")).toBe("f");
    chmodSync(join(root, "ro"), 0o755);
  });

  it("replaces an existing file or symlink at an entry's path without following it", async () => {
    writeFileSync(join(outside, "victim"), "safe");
    symlinkSync(join(outside, "victim"), join(root, "x"));
    write("y", "old");
    await extractTar(
      buildTar([
        { name: "x", content: "new x" },
        { name: "y", content: "new y" },
      ]),
      root,
      ".",
    );
    expect(readFileSync(join(outside, "victim"), "utf8")).toBe("safe");
    expect(lstatSync(join(root, "x")).isFile()).toBe(true);
    expect(readFileSync(join(root, "x"), "utf8")).toBe("new x");
    expect(readFileSync(join(root, "y"), "utf8")).toBe("new y");
  });

  it("makes hard links to files extracted inside", async () => {
    await extractTar(
      buildTar([
        { name: "a.txt", content: "same" },
        { name: "b.txt", type: "link", linkname: "a.txt" },
      ]),
      root,
      "r",
    );
    expect(statSync(join(root, "r/b.txt")).ino).toBe(statSync(join(root, "r/a.txt")).ino);
  });

  it("refuses hard links to a symlink or a missing file", async () => {
    symlinkSync(join(outside, "f"), join(root, "sl"));
    await expect(extractTar(buildTar([{ name: "h", type: "link", linkname: "sl" }]), root, ".")).rejects.toMatchObject({
      code: "ARTIFACT_INVALID",
    });
    await expect(extractTar(buildTar([{ name: "h", type: "link", linkname: "nope" }]), root, ".")).rejects.toMatchObject({
      code: "ARTIFACT_INVALID",
    });
  });

  it("refuses devices and FIFOs, naming the entry", async () => {
    const pack = tarStream.pack();
    pack.entry({ name: "dev/null-copy", type: "character-device", devmajor: 1, devminor: 3 });
    pack.finalize();
    const error = await extractTar(Readable.from(pack as unknown as AsyncIterable<Buffer>), root, ".").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ARTIFACT_INVALID" });
    expect((error as Error).message).toContain("dev/null-copy");
    expect(existsSync(join(root, "dev"))).toBe(false);
  });

  it("refuses a file where a directory is, and a directory where a file is", async () => {
    mkdirSync(join(root, "d"));
    write("f", "file");
    await expect(extractTar(buildTar([{ name: "d", content: "x" }]), root, ".")).rejects.toMatchObject({ code: "ARTIFACT_INVALID" });
    await expect(extractTar(buildTar([{ name: "f/inner", content: "x" }]), root, ".")).rejects.toMatchObject({ code: "ARTIFACT_INVALID" });
    expect(readFileSync(join(root, "f"), "utf8")).toBe("file");
  });

  it("reports a stream that is not a tar as ARTIFACT_INVALID", async () => {
    await expect(extractTar(Readable.from([Buffer.alloc(1024, 0x7a)]), root, ".")).rejects.toMatchObject({ code: "ARTIFACT_INVALID" });
  });

  it("reports a failing source stream and removes what it wrote", async () => {
    const good = buildTar([{ name: "a.txt", content: "a".repeat(10_000) }]);
    const chunks: Buffer[] = [];
    for await (const c of good) chunks.push(c as Buffer);
    const whole = Buffer.concat(chunks);
    const source = new Readable({
      read() {
        this.push(whole.subarray(0, 4096));
        this.destroy(new Error("connection lost"));
      },
    });
    await expect(extractTar(source, root, "r")).rejects.toThrow(/connection lost/);
    expect(existsSync(join(root, "r"))).toBe(false);
  });

  it("refuses escaping paths and symlinks with a message naming the entry, writing nothing outside", async () => {
    const cases: Array<[string, Parameters<typeof buildTar>[0]]> = [
      ["../x", [{ name: "../x", content: "x" }]],
      ["/abs", [{ name: join(outside, "abs"), content: "x" }]],
      [
        "link",
        [
          { name: "link", type: "symlink", linkname: outside },
          { name: "link/pwned", content: "x" },
        ],
      ],
      ["up", [{ name: "a/up", type: "symlink", linkname: "../../outside" }]],
    ];
    for (const [label, entries] of cases) {
      const error = await extractTar(buildTar(entries), root, ".").catch((e: unknown) => e);
      expect(error, label).toMatchObject({ code: expect.stringMatching(/^(PATH_ESCAPE|ARTIFACT_INVALID)$/) });
      expect((error as Error).message, label).toContain(entries[0]!.name);
    }
    expect(execFileSync("ls", ["-A", outside], { encoding: "utf8" })).toBe("");
    expect(execFileSync("ls", ["-A", root], { encoding: "utf8" })).toBe("");
  });

  it("refuses a symlink whose chain leaves the root through a symlink already on the disk", async () => {
    // Not in the archive: the job made `sub/up -> ..` itself. The restored `esc -> sub/up/../outside` looks like `sub/outside`.
    mkdirSync(join(root, "sub"));
    symlinkSync("..", join(root, "sub", "up"));
    const error = await extractTar(buildTar([{ name: "esc", type: "symlink", linkname: "sub/up/../outside" }]), root, ".").catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: "PATH_ESCAPE",
      message: 'tar entry "esc": symlink to "sub/up/../outside" resolves outside the job directory through the symlink "sub/up"',
    });
    expect(lstatSync(join(root, "esc"), { throwIfNoEntry: false })).toBeUndefined();
    // The same chain inside the archive, in either order, is refused before anything is left behind.
    for (const order of [0, 1]) {
      const entries: TarFixtureEntry[] = [
        { name: "d/", type: "directory", mode: 0o755 },
        { name: "d/up", type: "symlink", linkname: ".." },
        { name: "esc2", type: "symlink", linkname: "d/up/../../outside" },
      ];
      await expect(extractTar(buildTar(order === 1 ? [...entries].reverse() : entries), root, "r")).rejects.toMatchObject({
        code: "PATH_ESCAPE",
      });
      expect(existsSync(join(root, "r"))).toBe(false);
    }
  });

  it("refuses an extraction root path that goes through a symlink", async () => {
    symlinkSync(outside, join(root, "through"));
    await expect(extractTar(buildTar([{ name: "f", content: "x" }]), root, "through/sub")).rejects.toMatchObject({ code: "PATH_ESCAPE" });
    expect(existsSync(join(outside, "sub"))).toBe(false);
    expect(readlinkSync(join(root, "through"))).toBe(outside);
  });
});
