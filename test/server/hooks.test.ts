/**
 * The webhook route in process (`app.request()`, a real SQLite store): each
 * forge's signature over the raw body, refusals with their audit rows, the
 * body limit (declared and streamed), a delivery stored once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/store/store.js";
import { deliveryHeaders, pushPayload, unsigned, type Provider } from "./hook-payloads.js";
import { testApp, type TestApp } from "./helpers.js";

const SECRET = "It's a Secret to Everybody";
const SHA = "a".repeat(40);
let t: TestApp;

beforeAll(async () => {
  t = await testApp({ extra: { hooks: { settings: new Map([["app", { secret: SECRET }]]), bodyLimit: 64 * 1024 } } });
});
afterAll(async () => t?.close());

const refusals = async (): Promise<AuditRecord[]> =>
  (await t.store.audit.list({ limit: 1000 })).entries.filter((e) => e.action === "hook.refused");

function post(
  provider: string,
  repo: string,
  body: string | ReadableStream<Uint8Array>,
  headers: Record<string, string>,
): Promise<Response> {
  return t.call(`/api/v1/hooks/${provider}/${repo}`, {
    method: "POST",
    body,
    headers,
    token: null,
    ...(typeof body === "string" ? {} : { duplex: "half" }),
  });
}

describe.each<Provider>(["github", "gitea", "forgejo", "gitlab"])("%s deliveries", (provider) => {
  const body = JSON.stringify(pushPayload(provider, { ref: "refs/heads/main", before: "0".repeat(40), after: SHA }));

  it("a signed delivery is stored (202), once: the same id again answers 200 with its state", async () => {
    const headers = deliveryHeaders(provider, "push", body, SECRET, `first-${provider}`);
    const first = await post(provider, "app", body, headers);
    expect(first.status, await first.clone().text()).toBe(202);
    const stored = (await first.json()) as { id: string; state: string; event: string };
    expect(stored).toMatchObject({ state: "pending", event: "push" });
    const again = await post(provider, "app", body, headers);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: stored.id, duplicate: true });
    const listed = (await t.store.hooks.list({ repo: "app" })).filter((d) => d.provider === provider);
    expect(listed).toHaveLength(1);
    const audit = (await t.store.audit.list({ limit: 1000 })).entries.filter(
      (e) => e.action === "hook.receive" && e.actor === `hook:${provider}`,
    );
    expect(audit).toHaveLength(1);
  });

  it("no signature, a wrong one, another body with the first's signature: 401 and one audit row each", async () => {
    const before = (await refusals()).length;
    // The replay: the first delivery's headers (its id and signature) with another body.
    const headers = deliveryHeaders(provider, "push", body, SECRET, `first-${provider}`);
    const wrong = deliveryHeaders(provider, "push", body, "not the secret");
    const other = body.replace("refs/heads/main", "refs/heads/evil");
    for (const [h, b] of [
      [unsigned(headers), body],
      [wrong, body],
      [headers, other],
    ] as const) {
      const res = await post(provider, "app", b, h);
      if (provider === "gitlab" && b === other) {
        // GitLab signs nothing: the token is right, the delivery id was seen with another body.
        expect(res.status).toBe(409);
      } else {
        expect(res.status, await res.clone().text()).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
      }
    }
    const rows = (await refusals()).slice(0, (await refusals()).length - before);
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r).toMatchObject({ actor: `hook:${provider}`, target: "app" });
  });
});

describe("refusals", () => {
  const body = JSON.stringify(pushPayload("github", { ref: "refs/heads/main", before: "0".repeat(40), after: SHA }));

  it("a repository without a secret, an unknown provider", async () => {
    const res = await post("github", "other", body, deliveryHeaders("github", "push", body, SECRET));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("--hook-secret other=FILE");
    expect((await post("bitbucket", "app", body, {})).status).toBe(404);
  });

  it("a bearer token is no signature", async () => {
    const res = await t.call("/api/v1/hooks/github/app", {
      method: "POST",
      body,
      headers: unsigned(deliveryHeaders("github", "push", body, SECRET)),
    });
    expect(res.status).toBe(401);
  });

  it("a body over the limit: 413 from Content-Length before reading, and while streaming", async () => {
    const before = (await refusals()).length;
    const big = "x".repeat(64 * 1024 + 1);
    const declared = await post("github", "app", big, deliveryHeaders("github", "push", big, SECRET));
    expect(declared.status).toBe(413);
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        if (pulled > 1000) return controller.close();
        controller.enqueue(new Uint8Array(16 * 1024));
      },
    });
    const streamed = await post("github", "app", stream, { "x-github-event": "push", "x-github-delivery": "streamed" });
    expect(streamed.status).toBe(413);
    expect(pulled).toBeLessThan(10);
    expect((await refusals()).length - before).toBe(2);
  });

  it("a verified payload that is not JSON: 400 with an audit row; a ping is stored", async () => {
    const bad = "not json";
    expect((await post("github", "app", bad, deliveryHeaders("github", "push", bad, SECRET))).status).toBe(400);
    const ping = JSON.stringify({ zen: "Design for failure.", hook_id: 1, repository: { full_name: "o/r" }, sender: { login: "mona" } });
    const res = await post("github", "app", ping, deliveryHeaders("github", "ping", ping, SECRET));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ event: "ping" });
  });

  it("GET /api/v1/hooks/deliveries lists them (viewer) without secrets", async () => {
    const res = await t.call("/api/v1/hooks/deliveries?repo=app", { token: t.tokens.viewer });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(SECRET);
    const { deliveries } = JSON.parse(text) as { deliveries: { id: string }[] };
    expect(deliveries.length).toBeGreaterThan(4);
    expect((await t.call(`/api/v1/hooks/deliveries/${deliveries[0]?.id}`, { token: t.tokens.viewer })).status).toBe(200);
  });
});
