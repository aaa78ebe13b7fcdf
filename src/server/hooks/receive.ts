/**
 * `POST /api/v1/hooks/{provider}/{repo}`: a forge delivers an event.
 *
 * 1. The body is read as raw bytes with a counter: a `Content-Length` over
 *    the limit (25 MB) is refused before anything is read, and a body that
 *    grows past it is refused as soon as it does (413), never held whole.
 * 2. The signature (or GitLab's token) is checked over those raw bytes, in
 *    constant time, with the repository's secret: missing or bad is 401.
 * 3. The verified delivery is parsed and stored with its delivery id and its
 *    audit row in one transaction (`store.hooks.receive`), then answered
 *    202: fetching, compiling and starting runs is the processor's work
 *    (`processor.ts`), from the store, so it survives a crash.
 * 4. The same delivery id again answers 200 with the first delivery's state
 *    and stores nothing; the same id with another body is 409.
 *
 * Every refusal after the provider is known writes one audit row
 * (`hook.refused`, with the reason); an unknown provider is a plain 404.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Context } from "hono";
import type { Store } from "../../store/store.js";
import type { HookDeliveryRecord } from "../../store/hooks.js";
import { ApiError, notFound } from "../errors.js";
import type { HookSettings } from "./config.js";
import { HOOK_PROVIDERS } from "./providers.js";
import type { HookEvent } from "./types.js";

/** Largest webhook body (GitHub caps payloads at 25 MB). */
export const HOOK_BODY_LIMIT = 25 * 1024 * 1024;

export interface HookDeps {
  readonly settings: HookSettings;
  /** Called after a new delivery is stored (wakes this process's processor). */
  readonly onDelivery?: () => void;
  /** Body limit in bytes (default 25 MB). */
  readonly bodyLimit?: number;
}

/** The raw body, or a 413 once it is larger than `limit` (checked on Content-Length first, then while reading). */
export async function readLimited(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  const tooLarge = (): ApiError => new ApiError(413, "payload_too_large", `the webhook body is larger than ${limit} bytes`);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

export function deliveryJson(d: HookDeliveryRecord): Record<string, unknown> {
  return {
    id: d.id,
    repo: d.repo,
    provider: d.provider,
    delivery: d.delivery,
    event: (d.event as HookEvent).kind,
    state: d.state,
    attempts: d.attempts,
    receivedAt: d.receivedAt,
    finishedAt: d.finishedAt,
    result: d.result ?? null,
  };
}

async function refuse(store: Store, provider: string, repo: string, error: ApiError, detail: Record<string, unknown>): Promise<never> {
  await store.write([
    {
      op: "audit",
      entry: {
        actor: `hook:${provider}`,
        action: "hook.refused",
        target: repo,
        detail: { status: error.status, reason: error.message, ...detail },
      },
    },
  ]);
  throw error;
}

export async function receiveHook(
  c: Context,
  store: Store,
  hooks: HookDeps | undefined,
  providerName: string,
  repo: string,
): Promise<Response> {
  const provider = HOOK_PROVIDERS.get(providerName);
  if (!provider) throw notFound(`no webhook provider "${providerName}" (known: ${[...HOOK_PROVIDERS.keys()].join(", ")})`);
  const header = (name: string): string | undefined => c.req.header(name);
  const detail = { delivery: provider.deliveryId(header) ?? null, event: provider.event(header) ?? null };
  let body: Buffer;
  try {
    body = await readLimited(c.req.raw, hooks?.bodyLimit ?? HOOK_BODY_LIMIT);
  } catch (error) {
    if (error instanceof ApiError) return refuse(store, provider.name, repo, error, detail);
    throw error;
  }
  const secret = hooks?.settings.get(repo)?.secret;
  if (secret === undefined)
    return refuse(
      store,
      provider.name,
      repo,
      new ApiError(401, "unauthorized", `webhooks of repository "${repo}" are not enabled on this server (no --hook-secret ${repo}=FILE)`),
      detail,
    );
  const check = provider.verify(header, body, secret);
  if (!check.ok)
    return refuse(
      store,
      provider.name,
      repo,
      new ApiError(401, "unauthorized", `the delivery's signature is refused: ${check.reason}`),
      detail,
    );

  const bodyHash = createHash("sha256").update(body).digest("hex");
  const eventName = detail.event;
  if (eventName === null)
    return refuse(
      store,
      provider.name,
      repo,
      new ApiError(400, "invalid_request", "the delivery names no event (its event header is missing)"),
      detail,
    );
  let event: HookEvent;
  try {
    event = provider.parse(eventName, JSON.parse(body.toString("utf8")) as unknown);
  } catch (error) {
    return refuse(
      store,
      provider.name,
      repo,
      new ApiError(400, "invalid_request", `the ${provider.name} "${eventName}" payload cannot be read: ${(error as Error).message}`),
      detail,
    );
  }
  // A forge that sends no delivery id: the body's hash stands in (the same body is the same delivery).
  const delivery = detail.delivery ?? `sha256:${bodyHash}`;
  const now = Date.now();
  const { created, delivery: stored } = await store.hooks.receive(
    { id: `hd_${randomBytes(8).toString("hex")}`, repo, provider: provider.name, delivery, event, bodyHash, receivedAt: now },
    { at: now, actor: `hook:${provider.name}`, action: "hook.receive", target: repo, detail: { delivery, event: eventName } },
  );
  if (created) {
    hooks?.onDelivery?.();
    return c.json(deliveryJson(stored), 202);
  }
  if (stored.bodyHash !== bodyHash)
    return refuse(
      store,
      provider.name,
      repo,
      new ApiError(409, "conflict", `delivery ${delivery} was received before with another body; nothing was started`),
      { ...detail, delivery },
    );
  return c.json({ ...deliveryJson(stored), duplicate: true }, 200);
}
