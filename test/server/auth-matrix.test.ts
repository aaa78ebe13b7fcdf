/**
 * The auth matrix, generated from the route table: every route × (no token,
 * a bad token, a revoked token, an expired token, each role). A route
 * without an auth rule, or registered outside the table, fails here. Refused
 * calls write no audit row.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken, revokeToken, ROLES } from "../../src/server/auth.js";
import { routeTable } from "../../src/server/routes/index.js";
import type { AuthRule } from "../../src/server/routes/route.js";
import type { TokenRole } from "../../src/store/store.js";
import { testApp, type TestApp } from "./helpers.js";

const routes = routeTable();
let t: TestApp;
let revoked: string;
let expired: string;

beforeAll(async () => {
  t = await testApp();
  const r = await createToken(t.store, { role: "admin", name: "gone", actor: "test" });
  await revokeToken(t.store, r.record.id, "test");
  revoked = r.token;
  expired = (await createToken(t.store, { role: "admin", name: "old", actor: "test", expiresInMs: 1, now: Date.now() - 10_000 })).token;
});
afterAll(async () => t?.close());

function concrete(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, (_m, name: string) => `x-${name}`);
}

function allowed(rule: AuthRule, role: TokenRole): boolean {
  if (rule === "public" || rule === "signature") return true;
  const needed = rule === "metrics" ? "viewer" : rule;
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

describe("auth matrix (from the route table)", () => {
  it("every route has a known auth rule and the app serves nothing else", () => {
    const rules = new Set<string>(["public", "metrics", "signature", ...ROLES]);
    for (const r of routes) expect(rules.has(r.auth), `${r.method} ${r.path} has auth "${String(r.auth)}"`).toBe(true);
    const table = new Set(routes.map((r) => `${r.method.toUpperCase()} ${r.path}`));
    table.add("GET /api/v1/openapi.json");
    const served = t.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`);
    for (const s of served) expect(table.has(s), `${s} is served but not in the route table`).toBe(true);
  });

  for (const r of routes) {
    const path = concrete(r.path);
    const method = r.method.toUpperCase();
    const body = r.body ? "{}" : undefined;
    describe(`${method} ${r.path} (${r.auth})`, () => {
      it("without a token, with a bad, a revoked or an expired token", async () => {
        const auditBefore = (await t.store.audit.list({ limit: 1000 })).entries.length;
        for (const token of [null, "nope", "gantry_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", revoked, expired]) {
          const res = await t.call(path, { method, token, ...(body ? { body } : {}) });
          if (r.auth === "public" || r.auth === "signature") expect(res.status, `token ${String(token)}`).not.toBe(401);
          else {
            expect(res.status, `token ${String(token)}`).toBe(401);
            expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
          }
        }
        expect((await t.store.audit.list({ limit: 1000 })).entries.length).toBe(auditBefore);
      });
      for (const role of ROLES) {
        it(`as ${role}`, async () => {
          const auditBefore = (await t.store.audit.list({ limit: 1000 })).entries.length;
          const res = await t.call(path, { method, token: t.tokens[role], ...(body ? { body } : {}) });
          if (allowed(r.auth, role)) expect([401, 403]).not.toContain(res.status);
          else {
            expect(res.status).toBe(403);
            expect(((await res.json()) as { error: { code: string } }).error.code).toBe("forbidden");
            expect((await t.store.audit.list({ limit: 1000 })).entries.length).toBe(auditBefore);
          }
        });
      }
    });
  }
});
