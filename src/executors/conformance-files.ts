/** Executor conformance cases: files (tar round trips and the jail rules). */
import { expect, it } from "vitest";
import { buildTar, readTar } from "./conformance-fixtures.js";
import type { ConformanceKit } from "./conformance-kit.js";

export function fileCases(kit: ConformanceKit): void {
  const { executor, withJob, sh, expectRejected, absent, timeout, tag } = kit;

  it(
    "round-trips a tree through writeFiles and readFiles",
    async () => {
      await withJob("tar-tree", async (job) => {
        await executor().writeFiles(
          job,
          "restore",
          buildTar([
            { name: "./", type: "directory", mode: 0o755 },
            { name: "bin/", type: "directory", mode: 0o755 },
            { name: "bin/run.sh", mode: 0o755, content: "#!/bin/sh\necho run\n" },
            { name: "data/nested/deep.txt", mode: 0o640, content: "deep\n" },
            { name: "empty/", type: "directory", mode: 0o700 },
            { name: "link", type: "symlink", linkname: "data/nested/deep.txt" },
            { name: "readonly.txt", mode: 0o444, content: "ro" },
          ]),
        );
        expect(await sh(job, "cat restore/link; ./restore/bin/run.sh; test -d restore/empty && echo empty-dir")).toBe(
          "deep\nrun\nempty-dir\n",
        );
        const listing = await readTar(await executor().readFiles(job, "restore"));
        expect(listing.get(".")).toMatchObject({ type: "directory" });
        expect(listing.get("bin/run.sh")).toEqual({ type: "file", mode: 0o755, content: "#!/bin/sh\necho run\n" });
        expect(listing.get("data/nested/deep.txt")).toEqual({ type: "file", mode: 0o640, content: "deep\n" });
        expect(listing.get("data/nested")).toMatchObject({ type: "directory" });
        expect(listing.get("empty")).toEqual({ type: "directory", mode: 0o700 });
        expect(listing.get("link")).toMatchObject({ type: "symlink", linkname: "data/nested/deep.txt" });
        expect(listing.get("readonly.txt")).toEqual({ type: "file", mode: 0o444, content: "ro" });
        expect([...listing.keys()].sort()).toEqual([
          ".",
          "bin",
          "bin/run.sh",
          "data",
          "data/nested",
          "data/nested/deep.txt",
          "empty",
          "link",
          "readonly.txt",
        ]);
        // What readFiles produced restores elsewhere unchanged.
        await executor().writeFiles(job, "again/copy", await executor().readFiles(job, "restore"));
        const again = await readTar(await executor().readFiles(job, "again/copy"));
        expect(again).toEqual(listing);
      });
    },
    timeout,
  );

  it(
    "round-trips a single file",
    async () => {
      await withJob("tar-file", async (job) => {
        await sh(job, "printf one > one.txt && chmod 640 one.txt");
        const listing = await readTar(await executor().readFiles(job, "one.txt"));
        expect([...listing.entries()]).toEqual([[".", { type: "file", mode: 0o640, content: "one" }]]);
        await executor().writeFiles(job, "nested/copy.txt", await executor().readFiles(job, "one.txt"));
        expect(await sh(job, "cat nested/copy.txt")).toBe("one");
        const copy = await readTar(await executor().readFiles(job, "nested/copy.txt"));
        expect(copy.get(".")).toEqual({ type: "file", mode: 0o640, content: "one" });
      });
    },
    timeout,
  );

  it(
    "refuses tar entries with .. and writes nothing outside",
    async () => {
      await withJob("jail-dotdot", async (job) => {
        await expectRejected(
          executor().writeFiles(
            job,
            "restore",
            buildTar([
              { name: "ok.txt", content: "ok" },
              { name: `../../escape-${tag}`, content: "x" },
            ]),
          ),
        );
        await expectRejected(executor().writeFiles(job, ".", buildTar([{ name: `a/../../escape-${tag}`, content: "x" }])));
        await absent(job, `../escape-${tag}`);
        await absent(job, `../../escape-${tag}`);
        await absent(job, `escape-${tag}`);
      });
    },
    timeout,
  );

  it(
    "refuses tar entries with absolute names",
    async () => {
      await withJob("jail-absolute", async (job) => {
        const target = `/tmp/gantry-conformance-abs-${tag}`;
        await expectRejected(executor().writeFiles(job, "restore", buildTar([{ name: target, content: "x" }])));
        await absent(job, target);
      });
    },
    timeout,
  );

  it(
    "refuses symlinks that point outside, and files written through them",
    async () => {
      await withJob("jail-symlink", async (job) => {
        const outside = `/tmp/gantry-conformance-out-${tag}`;
        await sh(job, `mkdir -p '${outside}'`);
        try {
          await expectRejected(
            executor().writeFiles(
              job,
              "r1",
              buildTar([
                { name: "etc", type: "symlink", linkname: "/etc" },
                { name: `etc/gantry-conformance-${tag}`, content: "x" },
              ]),
            ),
          );
          await absent(job, `/etc/gantry-conformance-${tag}`);
          await expectRejected(
            executor().writeFiles(
              job,
              "r2",
              buildTar([
                { name: "out", type: "symlink", linkname: outside },
                { name: "out/pwned", content: "x" },
              ]),
            ),
          );
          await expectRejected(
            executor().writeFiles(job, "r3", buildTar([{ name: "up", type: "symlink", linkname: "../../../../../.." }])),
          );
          await expectRejected(executor().writeFiles(job, "r4", buildTar([{ name: "a/b", type: "symlink", linkname: "../../.." }])));
          await absent(job, `${outside}/pwned`);
          await absent(job, "r3/up");
        } finally {
          await sh(job, `rm -rf '${outside}'`);
        }
      });
    },
    timeout,
  );

  it(
    "refuses a directory entry where the same archive made a symlink",
    async () => {
      await withJob("jail-dir-over-symlink", async (job) => {
        await expectRejected(
          executor().writeFiles(
            job,
            "r",
            buildTar([
              { name: "real/", type: "directory", mode: 0o755 },
              { name: "d", type: "symlink", linkname: "real" },
              { name: "d/", type: "directory", mode: 0o700 },
            ]),
          ),
        );
        await absent(job, "r/d");
      });
    },
    timeout,
  );

  it(
    "refuses symlinks that escape through other symlinks of the archive (chains), whatever their order",
    async () => {
      await withJob("jail-symlink-chain", async (job) => {
        // `sub/up -> ..` is the job directory itself; `esc -> sub/up/../x` looks like `sub/x` but resolves to ../x.
        await expectRejected(
          executor().writeFiles(
            job,
            ".",
            buildTar([
              { name: "sub/", type: "directory", mode: 0o755 },
              { name: "esc", type: "symlink", linkname: `sub/up/../escape-${tag}` },
              { name: "sub/up", type: "symlink", linkname: ".." },
            ]),
          ),
        );
        await absent(job, "esc");
        await expectRejected(
          executor().writeFiles(
            job,
            "deep",
            buildTar([
              { name: "a/b/", type: "directory", mode: 0o755 },
              { name: "a/b/up", type: "symlink", linkname: "../.." },
              { name: "a/esc", type: "symlink", linkname: "b/up/../../x" },
            ]),
          ),
        );
        await absent(job, "deep/a/esc");
        // A chain that stays inside is fine.
        await executor().writeFiles(
          job,
          "ok",
          buildTar([
            { name: "sub/", type: "directory", mode: 0o755 },
            { name: "sub/up", type: "symlink", linkname: ".." },
            { name: "self", type: "symlink", linkname: "sub/up/sub" },
          ]),
        );
        expect(await sh(job, "test -d ok/self && echo ok")).toBe("ok\n");
      });
    },
    timeout,
  );

  it(
    "refuses to write through a symlink already in the job directory",
    async () => {
      await withJob("jail-through", async (job) => {
        const outside = `/tmp/gantry-conformance-through-${tag}`;
        await sh(job, `mkdir -p '${outside}' && ln -s '${outside}' through && mkdir -p d && ln -s ../through d/inner`);
        try {
          await expectRejected(executor().writeFiles(job, ".", buildTar([{ name: "through/pwned1", content: "x" }])));
          await expectRejected(executor().writeFiles(job, "through", buildTar([{ name: "pwned2", content: "x" }])));
          await expectRejected(executor().writeFiles(job, "d", buildTar([{ name: "inner/pwned3", content: "x" }])));
          await absent(job, `${outside}/pwned1`);
          await absent(job, `${outside}/pwned2`);
          await absent(job, `${outside}/pwned3`);
        } finally {
          await sh(job, `rm -rf '${outside}'`);
        }
      });
    },
    timeout,
  );

  it(
    "refuses hard links to anything outside",
    async () => {
      await withJob("jail-hardlink", async (job) => {
        await expectRejected(
          executor().writeFiles(job, "h1", buildTar([{ name: "hl", type: "link", linkname: "../../../../etc/passwd" }])),
        );
        await expectRejected(executor().writeFiles(job, "h2", buildTar([{ name: "hl", type: "link", linkname: "/etc/passwd" }])));
        await absent(job, "h1/hl");
        await absent(job, "h2/hl");
      });
    },
    timeout,
  );

  it(
    "refuses to read paths outside the job directory",
    async () => {
      await withJob("jail-read", async (job) => {
        await sh(job, "ln -s /etc etc-link");
        await expectRejected(executor().readFiles(job, "../"));
        await expectRejected(executor().readFiles(job, "/etc"));
        await expectRejected(executor().readFiles(job, "etc-link"));
        await expect(executor().readFiles(job, "missing")).rejects.toBeDefined();
      });
    },
    timeout,
  );
}
