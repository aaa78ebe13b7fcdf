/**
 * Issue 11.14: stored blobs are checked against their hash on every read. A
 * blob under `.gantry/state/blobs/` with six bytes changed fails the restore
 * of the next job (artifact and keyed cache) naming the artifact and the blob,
 * `gantry artifacts --out` leaves nothing of it in the output directory, the
 * server's artifact route ends the response short, and a worker's `getBlob`
 * writes nothing. Real CLI processes on a real SQLite store.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { GantryError } from "../../src/core/errors.js";
import { EventBus } from "../../src/core/events.js";
import { createStoreSource } from "../../src/queue/store-source.js";
import { BlobDir } from "../../src/store/blobs.js";
import { emitSampleRun, samplePlan } from "../../src/store/fixtures.js";
import { createStoreWriter } from "../../src/store/writer.js";
import { gantry, tempDir } from "../cli/helpers.js";
import { testApp } from "../server/helpers.js";

const ORIGINAL = "ORIGINAL-CONTENT-0123456789";
const workflow = `import { job, sh, workflow } from "gantry";
export default workflow({
  name: "integrity",
  jobs: {
    build: job({ steps: [sh\`mkdir -p dist && echo ${ORIGINAL} > dist/app.txt\`], outputs: { artifacts: { dist: "dist/" } } }),
    use: job({ needs: ["build"], inputs: { artifacts: { dist: "in/" } }, steps: [sh\`cat in/app.txt; test "$PASS" = 1\`] }),
    cached: job({ caches: [{ key: ["deps-v1"], paths: ["deps"] }], steps: [sh\`test -f deps/lib.txt && cat deps/lib.txt || (mkdir -p deps && echo CACHE-${ORIGINAL} > deps/lib.txt)\`] }),
  },
});
`;

/** Change six bytes of the blob at `path` where `marker` is (keeping its length). */
function tamper(path: string, marker: string): void {
  const bytes = readFileSync(path);
  const at = bytes.indexOf(marker);
  expect(at, `marker in ${path}`).toBeGreaterThanOrEqual(0);
  bytes.write("EVIL!!", at, "latin1");
  writeFileSync(path, bytes);
}

function blobsHolding(stateDir: string, marker: string): string[] {
  const dir = join(stateDir, "blobs");
  const out: string[] = [];
  for (const prefix of readdirSync(dir).filter((p) => /^[0-9a-f]{2}$/.test(p)))
    for (const name of readdirSync(join(dir, prefix)))
      if (readFileSync(join(dir, prefix, name)).includes(marker)) out.push(join(dir, prefix, name));
  return out;
}

describe("blob integrity through the CLI (issue 11.14)", () => {
  const repo = tempDir("blob-integrity");
  const state = join(repo, ".gantry", "state");
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it("a modified artifact or cache blob fails the restore naming the artifact and the blob; --out writes nothing", async () => {
    mkdirSync(join(repo, ".gantry"));
    writeFileSync(join(repo, ".gantry", "ci.ts"), workflow);
    // The first run fails in `use` (PASS unset): `rerun --failed` then restores build's artifact from the store.
    const first = await gantry(["run", "--log-format", "plain"], { cwd: repo, env: { PASS: "0" } });
    expect(first.code, first.stdout + first.stderr).toBe(1);
    const runs = JSON.parse((await gantry(["runs", "--json"], { cwd: repo })).stdout) as { id: string }[];
    const runId = runs[0]!.id;
    // One copy: the blob store, nothing under the run's directory.
    expect(existsSync(join(state, "runs", runId, "artifacts"))).toBe(false);
    const [artifactBlob] = blobsHolding(state, ORIGINAL).filter((p) => !readFileSync(p).includes(`CACHE-${ORIGINAL}`));
    const [cacheBlob] = blobsHolding(state, `CACHE-${ORIGINAL}`);
    expect(artifactBlob).toBeDefined();
    expect(cacheBlob).toBeDefined();
    tamper(artifactBlob!, ORIGINAL);
    tamper(cacheBlob!, `CACHE-${ORIGINAL}`);

    const rerun = await gantry(["rerun", runId, "--failed", "--log-format", "plain"], { cwd: repo, env: { PASS: "1" } });
    let out = rerun.stdout + rerun.stderr;
    expect(rerun.code, out).toBe(1);
    expect(out).toContain(
      `input artifact "dist" could not be restored to "in": artifact "dist" of build: the stored blob ${artifactBlob} does not match its hash`,
    );
    expect(out).not.toContain("EVIL!!");

    const again = await gantry(["run", "--log-format", "plain"], { cwd: repo, env: { PASS: "1" } });
    out = again.stdout + again.stderr;
    expect(again.code, out).toBe(1);
    expect(out).toContain(`[cached] failure`);
    expect(out).toContain(`cache deps-v1 ("deps"): the stored blob ${cacheBlob} does not match its hash`);
    expect(out).not.toContain("EVIL!!");

    const outDir = join(repo, "out");
    const extract = await gantry(["artifacts", runId, "--out", outDir], { cwd: repo });
    expect(extract.code, extract.stdout + extract.stderr).toBe(1);
    expect(extract.stderr).toContain(`artifact "dist" of build: the stored blob ${artifactBlob} does not match its hash`);
    expect(readdirSync(outDir)).toEqual([]);
  }, 180_000);
});

describe("blob integrity for the server and workers (issue 11.14)", () => {
  it("the artifact route ends short and getBlob writes nothing for a modified blob", async () => {
    const t = await testApp();
    try {
      const bytes = Buffer.from(`pretend tar ${"x".repeat(200_000)} ${ORIGINAL}`);
      const { hash } = await t.store.artifacts.blobs.save(Readable.from([bytes]));
      const bus = new EventBus();
      const writer = createStoreWriter(t.store, { bundleCode: () => "export default {};" });
      bus.subscribe(writer.onEvent);
      emitSampleRun(bus, "r1", samplePlan("ci"), { t0: 2_000_000_000_000 });
      bus.emit("artifact.saved", { runId: "r1", ts: 2_000_000_000_500, jobId: "build", name: "dist", hash, size: bytes.length });
      await writer.close();
      const good = await t.call("/api/v1/runs/r1/artifacts/dist");
      expect(Buffer.from(await good.arrayBuffer())).toEqual(bytes);

      tamper(t.store.artifacts.blobs.pathOf(hash), ORIGINAL);
      const bad = await t.call("/api/v1/runs/r1/artifacts/dist");
      expect(bad.status).toBe(200); // the headers went out before the end of the blob was read
      await expect(bad.arrayBuffer()).rejects.toThrow();

      const dest = join(t.dir, "fetched.tar");
      const source = createStoreSource(t.store);
      const error = await source.getBlob(hash, dest).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GantryError);
      expect((error as GantryError).code).toBe("BLOB_CORRUPT");
      expect((error as GantryError).message).toContain(t.store.artifacts.blobs.pathOf(hash));
      expect(existsSync(dest)).toBe(false);
      expect(readdirSync(t.dir).filter((f) => f.startsWith(".tmp"))).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it("open holds back the last chunk of a modified blob; a blob that matches streams whole", async () => {
    const dir = tempDir("blob-unit");
    try {
      const blobs = new BlobDir(dir);
      const bytes = Buffer.alloc(300_000, "a");
      const { hash, size } = await blobs.save(Readable.from([bytes]));
      expect(size).toBe(bytes.length);
      const whole: Buffer[] = [];
      for await (const chunk of await blobs.open(hash, "test blob")) whole.push(chunk as Buffer);
      expect(Buffer.concat(whole)).toEqual(bytes);

      const changed = Buffer.from(bytes);
      changed.write("EVIL!!", bytes.length - 10, "latin1");
      writeFileSync(blobs.pathOf(hash), changed);
      const got: Buffer[] = [];
      const failure = await (async () => {
        for await (const chunk of await blobs.open(hash, "test blob")) got.push(chunk as Buffer);
      })().catch((e: unknown) => e);
      expect((failure as GantryError).code).toBe("BLOB_CORRUPT");
      expect(Buffer.concat(got).includes("EVIL!!")).toBe(false);
      expect(Buffer.concat(got).length).toBeLessThan(bytes.length);
      await expect(blobs.open("f".repeat(64), "gone")).rejects.toThrow(/gone: its blob ffffffffffff is missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
