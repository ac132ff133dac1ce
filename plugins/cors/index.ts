// cors: Cross-Origin Resource Sharing answered by the gateway (the Fetch standard's CORS protocol), as Kong's and
// APISIX's cors plugins, Traefik's accessControl* headers or an nginx add_header block do it.
//
// It works in the onRequest phase, on the engine's byte path. A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) is answered there with 204 and never reaches the upstream; an allowed origin gets
// the Access-Control-Allow-* headers, another none. Other requests go on, and the answer edits recorded for them
// give the answer Access-Control-Allow-Origin (and -Credentials, -Expose-Headers) when the origin is allowed; the
// gateway's policy replaces any the upstream set. Answers that depend on the origin carry `Vary: Origin`, so a
// cache never hands one origin's answer to another. The edits apply to whatever answers: the upstream, a later
// plugin (a 401 the page can read), the gateway's own errors.
import { z } from "zod";
import { definePlugin, type GatewayAnswer, type GatewayRequest } from "../../gateway/mod.ts";
import { duration, headerName } from "../shared/option-types.ts";
import { isUpgradeRequest } from "../shared/upgrade.ts";
import { compileOrigins, originProblem } from "./origins.ts";

const origin = z.string().superRefine((entry, ctx) => {
  const problem = originProblem(entry);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const method = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: 'not a method name (or "*")' })
  .transform((m) => m.toUpperCase());
const headerList = z.array(headerName);

const options = z
  .strictObject({
    origins: z.union([origin, z.array(origin).min(1)]).transform((o) => (Array.isArray(o) ? o : [o])),
    methods: z.array(method).min(1).default(["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]),
    /** Request headers a page may send; default: whatever the preflight asks for. */
    allowHeaders: headerList.optional(),
    /** Response headers a page may read beyond the CORS-safelisted ones. */
    exposeHeaders: headerList.default([]),
    credentials: z.boolean().default(false),
    maxAge: duration.optional(),
  })
  .superRefine((o, ctx) => {
    // Fetch standard: with credentials, "*" is a literal name, not a wildcard, for exposed headers (there is no
    // request to reflect them from, as there is for the others).
    if (o.credentials && o.exposeHeaders.includes("*")) {
      ctx.addIssue({ code: "custom", path: ["exposeHeaders"], message: 'with credentials, "*" exposes nothing: list the headers' });
    }
  });

type Options = z.output<typeof options>;

const PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
/** The answer headers the route's policy decides, whatever the upstream sent. */
const POLICY_HEADERS = ["access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers"] as const;

export default definePlugin({
  name: "cors",
  options,
  setup(o: Options, { log }) {
    const origins = compileOrigins(o.origins);
    if (origins.any && o.credentials) {
      log('origins "*" with credentials: every site may read answers made with its visitors\' cookies; the origin is reflected (never "*")');
    }
    // "*" answers are the same for every origin (and need no Vary) only without credentials (Fetch standard).
    const wildcard = (list: readonly string[] | undefined) => list?.includes("*") === true && !o.credentials;
    const sameForAll = origins.any && !o.credentials;
    const allowOriginOf = (requestOrigin: string) => (sameForAll ? "*" : requestOrigin);
    const methods = wildcard(o.methods) ? "*" : o.methods.includes("*") ? undefined : o.methods.join(", ");
    const allowHeaders =
      o.allowHeaders === undefined || (o.allowHeaders.includes("*") && o.credentials)
        ? undefined // reflect what the preflight asks for
        : wildcard(o.allowHeaders)
          ? "*"
          : o.allowHeaders.join(", ");
    const exposeHeaders = o.exposeHeaders.length > 0 ? o.exposeHeaders.join(", ") : undefined;
    const maxAge = o.maxAge === undefined ? undefined : String(Math.floor(o.maxAge / 1000));

    const preflight = (req: GatewayRequest, requestOrigin: string): GatewayAnswer => {
      const headers: Record<string, string> = { vary: PREFLIGHT_VARY };
      if (origins.allows(requestOrigin)) {
        headers["access-control-allow-origin"] = allowOriginOf(requestOrigin);
        if (o.credentials) headers["access-control-allow-credentials"] = "true";
        headers["access-control-allow-methods"] = methods ?? req.header("access-control-request-method")!;
        const allowed = allowHeaders ?? req.header("access-control-request-headers");
        if (allowed) headers["access-control-allow-headers"] = allowed;
        if (maxAge !== undefined) headers["access-control-max-age"] = maxAge;
      }
      return { status: 204, headers };
    };

    return {
      onRequest(req) {
        // A protocol switch (WebSocket) is relayed as bytes: CORS does not apply to it (no page's fetch can ask for
        // one), so its answer is left as the upstream gives it.
        if (isUpgradeRequest(req)) return;
        const requestOrigin = req.header("origin");
        if (requestOrigin !== undefined && req.method === "OPTIONS" && req.header("access-control-request-method") !== undefined) {
          return preflight(req, requestOrigin);
        }
        // A second Vary field combines with the upstream's (RFC 9110 §5.3).
        if (!sameForAll) req.appendResponseHeader("vary", "Origin");
        if (requestOrigin === undefined || !origins.allows(requestOrigin)) {
          // An origin the policy does not allow learns nothing from the upstream's own CORS headers either.
          if (requestOrigin !== undefined) for (const name of POLICY_HEADERS) req.removeResponseHeader(name);
          return;
        }
        req.setResponseHeader("access-control-allow-origin", allowOriginOf(requestOrigin));
        if (o.credentials) req.setResponseHeader("access-control-allow-credentials", "true");
        else req.removeResponseHeader("access-control-allow-credentials");
        if (exposeHeaders) req.setResponseHeader("access-control-expose-headers", exposeHeaders);
        else req.removeResponseHeader("access-control-expose-headers");
      },
    };
  },
});
