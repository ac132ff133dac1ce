// Watches a request body on its way upstream: enforces the body limit on bodies whose size is not announced
// (chunked uploads) by counting bytes as they stream through, and remembers when the body failed on the
// client's side (over the limit, client gone, runtime cut it). A failed upload is then the client's fault:
// forward() must not count it against the upstream server, or one client could eject every server of a pool
// by sending oversized or truncated bodies.
import { UpstreamFailure } from "./errors.ts";

export interface WatchedBody {
  readonly stream: ReadableStream<Uint8Array>;
  /** Why the client's side of the body failed, once it has; undefined while it is fine. */
  readonly failure: UpstreamFailure | undefined;
  /** Settles once the whole body has been handed on (or the body failed or was cancelled). */
  readonly finished: Promise<void>;
}

/**
 * Relay `body`, failing once more than `maxBytes` have passed (undefined: no counting, the size was checked
 * up front from Content-Length).
 */
export function watchBody(body: ReadableStream<Uint8Array>, maxBytes?: number): WatchedBody {
  let seen = 0;
  let failure: UpstreamFailure | undefined;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const reader = body.getReader();
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: Awaited<ReturnType<typeof reader.read>>;
        try {
          result = await reader.read();
        } catch (error) {
          // The connection's own verdict on the body (a 400, 408 or 413) is kept as it is.
          failure ??=
            error instanceof UpstreamFailure
              ? error
              : new UpstreamFailure("aborted", `request body failed: ${(error as Error)?.message ?? error}`, { cause: error });
          controller.error(failure);
          finish();
          return;
        }
        if (result.done) {
          controller.close();
          finish();
          return;
        }
        seen += result.value.byteLength;
        if (maxBytes !== undefined && seen > maxBytes) {
          failure = new UpstreamFailure("body-too-large", `request body over ${maxBytes} bytes`);
          controller.error(failure);
          finish();
          void reader.cancel(failure).catch(() => {});
          return;
        }
        controller.enqueue(result.value);
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return {
    stream,
    finished,
    get failure() {
      return failure;
    },
  };
}
