/**
 * The one place a webhook's signature or token is checked, in constant time:
 * HMAC-SHA256 of the raw body (GitHub `X-Hub-Signature-256: sha256=<hex>`,
 * Gitea/Forgejo `X-Gitea-Signature`/`X-Forgejo-Signature: <hex>`), or a
 * shared token (GitLab `X-Gitlab-Token`), compared as SHA-256 digests so
 * neither the length nor the content leaks through timing.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { SignatureCheck } from "./types.js";

export function hmacSha256Hex(secret: string, body: Buffer): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** `given` is the hex HMAC (with or without a `sha256=` prefix). */
export function checkHmac(header: string, given: string, secret: string, body: Buffer): SignatureCheck {
  const hex = given.trim().replace(/^sha256=/i, "");
  if (!/^[0-9a-f]{64}$/i.test(hex)) return { ok: false, reason: `${header} is not a SHA-256 HMAC in hex` };
  const expected = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(Buffer.from(hex, "hex"), expected) ? { ok: true } : { ok: false, reason: `${header} does not match the body` };
}

export function checkToken(header: string, given: string, secret: string): SignatureCheck {
  const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(given), digest(secret)) ? { ok: true } : { ok: false, reason: `${header} is not this repository's token` };
}
