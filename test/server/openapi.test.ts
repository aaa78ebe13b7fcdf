/**
 * The OpenAPI 3.1 document served at /api/v1/openapi.json is valid (checked
 * with a real OpenAPI validator) and documents every route of the table.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routeTable } from "../../src/server/routes/index.js";
import { testApp, type TestApp } from "./helpers.js";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t?.close());

describe("OpenAPI document", () => {
  it("is served without a token, is valid OpenAPI 3.1 and lists every route with its role", async () => {
    const res = await t.call("/api/v1/openapi.json", { token: null });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { "x-gantry-role": string }>> };
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
    for (const r of routeTable()) {
      const path = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
      expect(doc.paths[path]?.[r.method]?.["x-gantry-role"], `${r.method} ${path}`).toBe(r.auth);
    }
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
    const schemas = (doc as unknown as { components: { schemas: Record<string, unknown> } }).components.schemas;
    for (const ref of refs) expect(schemas[ref.split("/").pop() as string], ref).toBeDefined();
  });
});
