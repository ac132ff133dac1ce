// Every answer the gateway makes up itself is JSON: { "error": "...", "requestId": "..." }.

export function errorResponse(status: number, error: string, requestId: string, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify({ error, requestId }), {
    status,
    headers: { "content-type": "application/json", "x-request-id": requestId, ...headers },
  });
}

/** Why an upstream exchange failed; decides the status code and whether a retry may help. */
export type FailureKind = "connect" | "timeout" | "bad-response" | "aborted" | "body-too-large";

export class UpstreamFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The server closed the connection (or reset it) before any byte of its answer: it may not have read the
 * request at all, so an idempotent request may go to another server (nginx's `proxy_next_upstream error`,
 * HAProxy's `retry-on empty-response`). A bad answer to the client all the same (502).
 */
export class ClosedBeforeAnswer extends UpstreamFailure {
  constructor(message: string) {
    super("bad-response", message);
  }
}

/** The client's request body failed (invalid framing, too large, too slow, cut short): answered with its own status. */
export class ClientBodyFailure extends UpstreamFailure {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(status === 413 ? "body-too-large" : "aborted", message);
  }
}

// What fetch reports when no connection could be made, or a pooled one was found dead before any reply.
const CONNECT_ERRORS =
  /ECONNREFUSED|ConnectionRefused|FailedToOpenSocket|ECONNRESET|ConnectionClosed|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|DNS|connection refused|Connection reset|os error 111/i;

/** Sort an error thrown by fetch into a failure kind. */
export function classifyFetchError(error: unknown): FailureKind {
  if (error instanceof UpstreamFailure) return error.kind;
  const e = error as { code?: string; name?: string; message?: string };
  const text = `${e?.code ?? ""} ${e?.name ?? ""} ${e?.message ?? ""}`;
  return CONNECT_ERRORS.test(text) ? "connect" : "bad-response";
}
