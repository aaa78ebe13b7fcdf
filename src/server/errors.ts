/**
 * The one error type of the HTTP API. Every refusal is an `ApiError` thrown
 * by a handler or middleware and turned into `{ error: { code, message } }`
 * with its status in one place (`app.ts`).
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export type ApiErrorCode =
  "unauthorized" | "forbidden" | "not_found" | "invalid_request" | "conflict" | "payload_too_large" | "unavailable" | "internal";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

export const notFound = (what: string): ApiError => new ApiError(404, "not_found", what);
export const invalid = (message: string): ApiError => new ApiError(400, "invalid_request", message);
