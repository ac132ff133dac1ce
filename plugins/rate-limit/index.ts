// rate-limit: at most `limit` requests per `window` for each client (address, header, verified JWT claim or
// the route as a whole), as Kong's rate-limiting, Traefik's rateLimit or nginx's limit_req. Over it, the
// request is answered 429 with Retry-After and never reaches the upstream. Counts live in this process, or
// in Redis to share one limit across gateway processes and machines.
import type { Context, MiddlewareHandler } from "hono";
import { definePlugin, type GatewayEnv } from "../../gateway/mod.ts";
import type { Decision } from "./decision.ts";
import { optionsSchema } from "./options.ts";
import { compileRequestKey } from "./request-key.ts";
import { policyField, rateLimitField, retryAfterSeconds } from "./response-headers.ts";
import { openStore } from "./stores.ts";

export default definePlugin({
  name: "rate-limit",
  options: optionsSchema,
  async setup(o, context) {
    const keyOf = compileRequestKey(o.key, o.ipv6Prefix);
    const { store, release } = await openStore(o, context.log);
    const policy = policyField(o.policy, o.limit, o.window);
    const failOpen = o.onStoreError === "allow";
    let storeFailing = false;

    const refuse = (c: Context<GatewayEnv>, decision: Decision): Response => {
      const headers: Record<string, string> = { "content-type": "application/json", "retry-after": retryAfterSeconds(decision) };
      if (o.headers) {
        headers["ratelimit-policy"] = policy;
        headers.ratelimit = rateLimitField(o.policy, decision);
      }
      return new Response(JSON.stringify({ error: "rate limit exceeded", requestId: c.get("requestId") }), { status: 429, headers });
    };

    const storeFailed = (error: unknown): void => {
      if (storeFailing) return;
      storeFailing = true;
      const then = failOpen ? "requests go through uncounted" : "requests are refused with 503";
      context.log(`store unavailable (${(error as Error)?.message ?? String(error)}): ${then} until it answers`);
    };

    const middleware: MiddlewareHandler<GatewayEnv> = async (c, next) => {
      let decision: Decision;
      try {
        const answer = store.hit(keyOf(c));
        decision = answer instanceof Promise ? await answer : answer;
      } catch (error) {
        storeFailed(error);
        if (failOpen) return next();
        return new Response(JSON.stringify({ error: "rate limit store unavailable", requestId: c.get("requestId") }), {
          status: 503,
          headers: { "content-type": "application/json", "retry-after": "1" },
        });
      }
      if (storeFailing) {
        storeFailing = false;
        context.log("store answers again: requests are counted");
      }
      if (!decision.allowed) return refuse(c, decision);
      await next();
      // A 101 is the marker of an upgrade proxied as bytes, one object for every upgrade: never written, never changed.
      if (o.headers && c.res.status !== 101) {
        try {
          c.res.headers.append("ratelimit-policy", policy);
          c.res.headers.append("ratelimit", rateLimitField(o.policy, decision));
        } catch {
          // An answer with immutable headers (Response.redirect from another plugin) goes out as it is.
        }
      }
    };
    return { middleware, teardown: release };
  },
});
