// request-id: the gateway always carries X-Request-Id; this plugin lets the ID travel under another
// header name too (X-Correlation-Id, X-Amzn-Trace-Id…), and can refuse IDs clients send.
import { z } from "zod";
import { definePlugin, type GatewayEnv } from "../../gateway/mod.ts";
import type { MiddlewareHandler } from "hono";

const options = z.strictObject({
  /** Header to read the client's ID from and to echo it in, besides X-Request-Id. */
  header: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/).default("x-request-id"),
  /** false: always make a new ID, ignoring what the client sent (edge deployments facing the internet). */
  trustIncoming: z.boolean().default(true),
});

export default definePlugin({
  name: "request-id",
  options,
  setup({ header, trustIncoming }) {
    const name = header.toLowerCase();
    const middleware: MiddlewareHandler<GatewayEnv> = async (c, next) => {
      const incoming = trustIncoming ? c.req.header(name) : undefined;
      if (incoming && /^[\w.:@=+\/-]{1,200}$/.test(incoming)) c.set("requestId", incoming);
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
