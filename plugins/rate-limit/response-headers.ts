// The answers' headers: Retry-After (RFC 9110) on refusals, and the IETF RateLimit-Policy / RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers, structured-field lists) when `headers` is on:
//   RateLimit-Policy: "default";q=100;w=60      the quota q per window w (seconds)
//   RateLimit: "default";r=0;t=30               r requests remain; t seconds until the quota resets
//                                                 (refused: until a request will be allowed again)
import type { Decision } from "./decision.ts";

export function policyField(policy: string, limit: number, windowMs: number): string {
  return `"${policy}";q=${limit};w=${windowMs / 1000}`;
}

export function rateLimitField(policy: string, decision: Decision): string {
  return `"${policy}";r=${decision.remaining};t=${Math.ceil(decision.resetMs / 1000)}`;
}

/** Whole seconds to wait, at least one: a client told "0" would come straight back. */
export function retryAfterSeconds(decision: Decision): string {
  return String(Math.max(1, Math.ceil(decision.resetMs / 1000)));
}
