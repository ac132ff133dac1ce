// Enforces the request body limit on bodies whose size is not announced (chunked uploads): bytes are
// counted as they stream through, and the stream fails once the limit is passed. Bodies with a
// Content-Length are checked up front and need no wrapper.
import { UpstreamFailure } from "./errors.ts";

export function limitBody(body: ReadableStream<Uint8Array>, maxBytes: number): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(new UpstreamFailure("body-too-large", `request body over ${maxBytes} bytes`));
        else controller.enqueue(chunk);
      },
    }),
  );
}
