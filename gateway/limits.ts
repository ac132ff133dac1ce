// Request limits checked before any routing: URI length (414), header size (431) and an announced body
// over the limit (413). Chunked bodies are counted as they stream (proxy/body-limit.ts).
import type { LimitsConfig } from "./config/schema.ts";

export interface LimitViolation {
  status: 400 | 413 | 414 | 431;
  error: string;
}

export type LimitCheck = (request: Request, pathAndQueryLength: number) => LimitViolation | undefined;

/**
 * Compile the limits into one check. `runtimeHeaderCap` is the header size the runtime itself refuses
 * above (Bun: 16 KB): when the configured limit is not below it, headers need no counting per request.
 */
export function compileLimits(limits: LimitsConfig, runtimeHeaderCap: number | undefined): LimitCheck {
  const countHeaders = runtimeHeaderCap === undefined || limits.maxHeaderSize < runtimeHeaderCap;
  return (request, pathAndQueryLength) => {
    if (pathAndQueryLength > limits.maxUriLength) return { status: 414, error: "URI too long" };
    if (countHeaders) {
      let headerBytes = 0;
      request.headers.forEach((value, name) => {
        headerBytes += name.length + value.length + 4; // ": " and CRLF, as on the wire
      });
      if (headerBytes > limits.maxHeaderSize) return { status: 431, error: "request headers too large" };
    }
    const length = request.headers.get("content-length");
    if (length !== null) {
      if (!/^\d+$/.test(length)) return { status: 400, error: "invalid Content-Length" };
      if (Number(length) > limits.maxBodySize) return { status: 413, error: "request body too large" };
    }
    return undefined;
  };
}
