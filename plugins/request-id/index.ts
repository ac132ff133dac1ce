// request-id: the gateway always carries X-Request-Id; this plugin lets the ID travel under another
// header name too (X-Correlation-Id, X-Amzn-Trace-Id…), and can refuse IDs clients send.
//
// With its default options it asks nothing of a request the gateway does not already do (keep a client's sane
// X-Request-Id, else make one, and send it both ways), so it adds no hook. The other options choose the request's
// id in the onRequest phase: their routes stay on the byte path too.
import { z } from "zod";
import { definePlugin } from "../../gateway/mod.ts";

const options = z.strictObject({
  /** Header to read the client's ID from and to echo it in, besides X-Request-Id. */
  header: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/)
    .default("x-request-id"),
  /** false: always make a new ID, ignoring what the client sent (edge deployments facing the internet). */
  trustIncoming: z.boolean().default(true),
});

/** The IDs taken from a client: a plain token of at most 200 bytes, as the gateway's own X-Request-Id rule. */
const SAFE_ID = /^[\w.:@=+\/-]{1,200}$/;

export default definePlugin({
  name: "request-id",
  options,
  setup({ header, trustIncoming }) {
    const name = header.toLowerCase();
    // The gateway already keeps a client's sane X-Request-Id, makes one otherwise, and sends it both ways.
    if (name === "x-request-id" && trustIncoming) return {};
    return {
      onRequest(req) {
        const incoming = trustIncoming ? req.header(name) : undefined;
        if (incoming !== undefined && SAFE_ID.test(incoming)) req.setRequestId(incoming);
        else if (!trustIncoming) req.setRequestId(crypto.randomUUID());
        if (name !== "x-request-id") {
          req.setHeader(header, req.requestId);
          req.setResponseHeader(header, req.requestId);
        }
      },
    };
  },
});
