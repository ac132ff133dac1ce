// request-id: the gateway always carries X-Request-Id; this plugin lets the ID travel under another
// header name too (X-Correlation-Id, X-Amzn-Trace-Id…), and can refuse IDs clients send.
//
// With its default options it asks nothing of a request the gateway does not already do (keep a client's sane
// X-Request-Id, else make one, and send it both ways), so it adds no hook and its routes stay on the byte path.
// The other options may change the request's ID, which the onRequest phase cannot do: they work as hono
// middleware, and their routes (every route, for a global plugin) go through hono.
import { z } from "zod";
import { definePlugin, type GatewayEnv } from "../../gateway/mod.ts";
import type { MiddlewareHandler } from "hono";

const options = z.strictObject({
  /** Header to read the client's ID from and to echo it in, besides X-Request-Id. */
  header: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/).default("x-request-id"),
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
    if (name === "x-request-id" && trustIncoming) return {};
    const middleware: MiddlewareHandler<GatewayEnv> = async (c, next) => {
      const incoming = trustIncoming ? c.req.header(name) : undefined;
      if (incoming && SAFE_ID.test(incoming)) c.set("requestId", incoming);
      else if (!trustIncoming) c.set("requestId", crypto.randomUUID());
      await next();
      if (name !== "x-request-id") c.res.headers.set(name, c.get("requestId"));
    };
    return {
      middleware,
      beforeUpstream(ctx) {
        if (name !== "x-request-id") ctx.upstream.headers.set(name, ctx.requestId);
      },
    };
  },
});
