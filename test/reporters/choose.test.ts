import { describe, expect, it } from "vitest";
import { GantryError } from "../../src/core/errors.js";
import { chooseReporter } from "../../src/reporters/choose.js";
import { Collector, scenario } from "./fixtures.js";

async function run(format: Parameters<typeof chooseReporter>[0], isTTY: boolean): Promise<string> {
  const out = new Collector();
  const r = chooseReporter(format, out, { isTTY, color: false });
  for (const e of scenario()) r.onEvent(e);
  await r.close();
  return out.text;
}

describe("chooseReporter", () => {
  it("picks pretty on a TTY and plain otherwise when no format is given", async () => {
    expect(await run(undefined, true)).toContain("✓ build  1.13s");
    expect(await run(undefined, false)).toContain("[build] success in 1.13s");
  });

  it("follows an explicit format", async () => {
    expect(await run("plain", true)).toContain("[build] success in 1.13s");
    expect((await run("json", true)).split("\n")[0]).toMatch(/^\{"type":"run.started"/);
    expect(await run("pretty", false)).toContain("✓ build  1.13s");
  });

  it("rejects an unknown format with a usage error", () => {
    expect(() => chooseReporter("fancy" as never, new Collector(), { isTTY: false, color: false })).toThrow(GantryError);
    expect(() => chooseReporter("fancy" as never, new Collector(), { isTTY: false, color: false })).toThrow(
      /--log-format: unknown format "fancy"/,
    );
  });
});
