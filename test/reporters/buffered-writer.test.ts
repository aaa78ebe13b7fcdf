import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { FlowGate } from "../../src/core/events.js";
import { BufferedWriter, utf8 } from "../../src/reporters/buffered-writer.js";

describe("BufferedWriter", () => {
  it("holds the flow gate while a slow stream leaves more than holdAt characters waiting, and releases it once drained", async () => {
    let release: (() => void) | undefined;
    const stuck = new Writable({
      highWaterMark: 16,
      write(_chunk: Buffer, _enc, cb) {
        release = cb;
      },
    });
    const flow = new FlowGate();
    const w = new BufferedWriter(stuck, { highWaterMark: 10, holdAt: 100, flow });
    w.write("x".repeat(20)); // handed to the stream, which is now full
    expect(flow.held).toBe(false);
    for (let i = 0; i < 9; i++) w.write("y".repeat(10));
    expect(flow.held).toBe(false);
    w.write("z".repeat(10)); // 100 characters wait
    expect(flow.held).toBe(true);
    const resumed = flow.wait();
    expect(resumed).toBeInstanceOf(Promise);
    // the stream takes its chunk: "drain", the waiting text goes out, the gate opens
    const next = (): void => {
      const cb = release;
      release = undefined;
      cb?.();
    };
    next();
    await resumed;
    expect(flow.held).toBe(false);
    const drained = w.drain();
    while (release) {
      next();
      await new Promise((r) => setImmediate(r));
    }
    await drained;
  });

  it("writes once per tick for small writes and at once past the high-water mark", async () => {
    const chunks: string[] = [];
    const w = new BufferedWriter({ write: (s: string) => chunks.push(s) }, 10);
    w.write("abc");
    w.write("def");
    expect(chunks).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(chunks).toEqual(["abcdef"]);
    w.write("0123456789x");
    expect(chunks).toEqual(["abcdef", "0123456789x"]);
    await w.drain();
  });

  it("resolves drain only after a slow stream has accepted everything", async () => {
    const got: string[] = [];
    const slow = new Writable({
      highWaterMark: 8,
      write(chunk: Buffer, _enc, cb) {
        setTimeout(() => {
          got.push(chunk.toString());
          cb();
        }, 2);
      },
    });
    const w = new BufferedWriter(slow, 4);
    for (let i = 0; i < 50; i++) w.write(`line ${i}\n`);
    await w.drain();
    expect(got.join("").split("\n")).toHaveLength(51);
    expect(got.join("")).toContain("line 49\n");
  });

  it("records a stream error and still resolves drain", async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error("disk full"));
      },
    });
    failing.on("error", () => {});
    const w = new BufferedWriter(failing);
    w.write("x");
    await w.drain();
    expect(w.error?.message).toBe("disk full");
  });

  it("passes strings through unchanged (multi-byte characters included)", async () => {
    const s = new PassThrough();
    const parts: Buffer[] = [];
    s.on("data", (b: Buffer) => parts.push(b));
    const w = new BufferedWriter(s, 3);
    w.write("✓ é ⏱\n");
    await w.drain();
    expect(Buffer.concat(parts).toString("utf8")).toBe("✓ é ⏱\n");
  });
});

describe("utf8", () => {
  it("encodes ASCII by copy and anything else as UTF-8 (a character above U+00FF is never cut to its low byte)", () => {
    for (const text of ["plain ascii\n", "", "café ✓", "\u0141\u0100A", "x\uD800y", "\u00ff"]) {
      expect(utf8(text).equals(Buffer.from(text, "utf8"))).toBe(true);
    }
  });
});
