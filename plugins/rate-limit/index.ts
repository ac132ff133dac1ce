// rate-limit: at most `limit` requests per `window` for each client (address, header, verified JWT claim or
// the route as a whole), as Kong's rate-limiting, Traefik's rateLimit or nginx's limit_req. Over it, the
// request is answered 429 with Retry-After and never reaches the upstream. Counts live in this process, or
// in Redis to share one limit across gateway processes and machines.
//
// It works in the onRequest phase, on the engine's byte path: the local store decides at once, the Redis store's
// decision is a promise the phase waits for (never longer than the store's timeout). The RateLimit fields are
// answer edits, so they are on whatever answers the request: the upstream, the 429, another plugin, the gateway.
import { definePlugin, type GatewayAnswer, type GatewayRequest } from "../../gateway/mod.ts";
import type { Decision } from "./decision.ts";
import { optionsSchema } from "./options.ts";
import { compileRequestKey } from "./request-key.ts";
import { policyField, rateLimitField, retryAfterSeconds } from "./response-headers.ts";
import { openStore } from "./stores.ts";

export default definePlugin({
  name: "rate-limit",
  options: optionsSchema,
  async setup(o, context) {
    const keyOf = compileRequestKey(o.key, o.ipv6Prefix, context.scope);
    const { store, release } = await openStore(o, context.log);
    const policy = policyField(o.policy, o.limit, o.window);
    const failOpen = o.onStoreError === "allow";
    let storeFailing = false;

    const decided = (req: GatewayRequest, decision: Decision): GatewayAnswer | undefined => {
      if (storeFailing) {
        storeFailing = false;
        context.log("store answers again: requests are counted");
      }
      // Appended, not set: several limits on one route (and an upstream's own policies) each add their member.
      if (o.headers) {
        req.appendResponseHeader("ratelimit-policy", policy);
        req.appendResponseHeader("ratelimit", rateLimitField(o.policy, decision));
      }
      if (decision.allowed) return undefined;
      return { status: 429, headers: { "retry-after": retryAfterSeconds(decision) }, json: { error: "rate limit exceeded", requestId: req.requestId } };
    };

    const failed = (req: GatewayRequest, error: unknown): GatewayAnswer | undefined => {
      if (!storeFailing) {
        storeFailing = true;
        const then = failOpen ? "requests go through uncounted" : "requests are refused with 503";
        context.log(`store unavailable (${(error as Error)?.message ?? String(error)}): ${then} until it answers`);
      }
      if (failOpen) return undefined;
      return { status: 503, headers: { "retry-after": "1" }, json: { error: "rate limit store unavailable", requestId: req.requestId } };
    };

    return {
      onRequest(req) {
        let answer: Decision | Promise<Decision>;
        try {
          answer = store.hit(keyOf(req));
        } catch (error) {
          return failed(req, error);
        }
        if (answer instanceof Promise)
          return answer.then(
            (decision) => decided(req, decision),
            (error: unknown) => failed(req, error),
          );
        return decided(req, answer);
      },
      teardown: release,
    };
  },
});
