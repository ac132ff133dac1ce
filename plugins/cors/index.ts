// cors: Cross-Origin Resource Sharing answered by the gateway (the Fetch standard's CORS protocol), as Kong's and
// APISIX's cors plugins, Traefik's accessControl* headers or an nginx add_header block do it.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here with 204 and never reaches the
// upstream; an allowed origin gets the Access-Control-Allow-* headers, another none. Other requests go on, and their
// answer carries Access-Control-Allow-Origin (and -Credentials, -Expose-Headers) when the origin is allowed; the
// gateway's policy replaces any the upstream set. Answers that depend on the origin carry `Vary: Origin`, so a
// cache never hands one origin's answer to another.
import { z } from "zod";
import type { Context, MiddlewareHandler } from "hono";
import { definePlugin, type GatewayEnv } from "../../gateway/mod.ts";
import { duration, headerName } from "../shared/option-types.ts";
import { compileOrigins, originProblem } from "./origins.ts";

const origin = z.string().superRefine((entry, ctx) => {
  const problem = originProblem(entry);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const method = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: 'not a method name (or "*")' }).transform((m) => m.toUpperCase());
const headerList = z.array(headerName);

const options = z.strictObject({
  origins: z.union([origin, z.array(origin).min(1)]).transform((o) => (Array.isArray(o) ? o : [o])),
  methods: z.array(method).min(1).default(["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]),
  /** Request headers a page may send; default: whatever the preflight asks for. */
  allowHeaders: headerList.optional(),
  /** Response headers a page may read beyond the CORS-safelisted ones. */
  exposeHeaders: headerList.default([]),
  credentials: z.boolean().default(false),
  maxAge: duration.optional(),
}).superRefine((o, ctx) => {
  // Fetch standard: with credentials, "*" is a literal name, not a wildcard, for exposed headers (there is no
  // request to reflect them from, as there is for the others).
  if (o.credentials && o.exposeHeaders.includes("*")) {
    ctx.addIssue({ code: "custom", path: ["exposeHeaders"], message: 'with credentials, "*" exposes nothing: list the headers' });
  }
});

type Options = z.output<typeof options>;

const PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

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
    const allowHeaders = o.allowHeaders === undefined || (o.allowHeaders.includes("*") && o.credentials)
      ? undefined // reflect what the preflight asks for
      : wildcard(o.allowHeaders) ? "*" : o.allowHeaders.join(", ");
    const exposeHeaders = o.exposeHeaders.length > 0 ? o.exposeHeaders.join(", ") : undefined;
    const maxAge = o.maxAge === undefined ? undefined : String(Math.floor(o.maxAge / 1000));

    const preflight = (c: Context<GatewayEnv>, requestOrigin: string): Response => {
      const headers = new Headers({ vary: PREFLIGHT_VARY });
      if (origins.allows(requestOrigin)) {
        const request = c.req.raw.headers;
        headers.set("access-control-allow-origin", allowOriginOf(requestOrigin));
        if (o.credentials) headers.set("access-control-allow-credentials", "true");
        headers.set("access-control-allow-methods", methods ?? request.get("access-control-request-method")!);
        const asked = request.get("access-control-request-headers");
        const allowed = allowHeaders ?? asked;
        if (allowed) headers.set("access-control-allow-headers", allowed);
        if (maxAge !== undefined) headers.set("access-control-max-age", maxAge);
      }
      return new Response(null, { status: 204, headers });
    };

    const middleware: MiddlewareHandler<GatewayEnv> = async (c, next) => {
      const requestOrigin = c.req.raw.headers.get("origin");
      if (requestOrigin !== null && c.req.method === "OPTIONS" && c.req.raw.headers.has("access-control-request-method")) {
        return preflight(c, requestOrigin);
      }
      await next();
      // A protocol switch (WebSocket) is relayed from the upstream as bytes: CORS does not apply to it.
      if (c.res.status === 101) return;
      if (requestOrigin === null) {
        if (!sameForAll) editHeaders(c, (headers) => addVaryOrigin(headers));
        return;
      }
      const allowed = origins.allows(requestOrigin);
      editHeaders(c, (headers) => {
        headers.delete("access-control-allow-origin");
        headers.delete("access-control-allow-credentials");
        headers.delete("access-control-expose-headers");
        if (!sameForAll) addVaryOrigin(headers);
        if (!allowed) return;
        headers.set("access-control-allow-origin", allowOriginOf(requestOrigin));
        if (o.credentials) headers.set("access-control-allow-credentials", "true");
        if (exposeHeaders) headers.set("access-control-expose-headers", exposeHeaders);
      });
    };
    return { middleware };
  },
});

/** Edit the answer's headers in place; an answer whose headers are immutable (Response.redirect) is copied first. */
function editHeaders(c: Context<GatewayEnv>, edit: (headers: Headers) => void): void {
  try {
    edit(c.res.headers);
  } catch {
    const copy = new Response(c.res.body, c.res);
    edit(copy.headers);
    // hono's setter merges the previous answer's headers into the new one: drop the previous answer first.
    c.res = undefined as unknown as Response;
    c.res = copy;
  }
}

function addVaryOrigin(headers: Headers): void {
  const vary = headers.get("vary");
  if (vary === null) headers.set("vary", "Origin");
  else if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(vary)) headers.set("vary", `${vary}, Origin`);
}
