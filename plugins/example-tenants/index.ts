// example-tenants: the plugin docs/plugins.md walks through, hook by hook. Each request names its tenant in a
// header; the plugin refuses unknown tenants at the edge, sends each tenant to its own pool, counts answered
// requests per tenant, logs slow ones, and serves the counts at /_tenants. Written as a plugin outside this
// repository would be: options validated by a schema, per-request facts passed between phases in `ctx.vars`,
// everything `setup` opens closed in `teardown`.
import { z } from "zod";
import { definePlugin } from "sluice";

const options = z.strictObject({
  /** The request header that names the tenant. */
  header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, { message: "not a header name" })
    .default("x-tenant"),
  /** Tenant name → the pool that serves it. */
  tenants: z.record(z.string().min(1), z.string().min(1)).refine((t) => Object.keys(t).length > 0, { message: "name at least one tenant" }),
  /** Write the counts to the log every so often (milliseconds; 0: never). */
  reportEvery: z.number().int().min(0).default(0),
  /** Log requests slower than this (milliseconds; 0: none). */
  slowMs: z.number().int().min(0).default(0),
});

export default definePlugin({
  name: "example-tenants",
  options,
  setup({ header, tenants, reportEvery, slowMs }, { log }) {
    const counts = new Map<string, number>(Object.keys(tenants).map((t) => [t, 0]));
    const report = reportEvery > 0 ? setInterval(() => log(JSON.stringify(Object.fromEntries(counts))), reportEvery) : undefined;

    return {
      // hono middleware: answer early, before any upstream is chosen.
      middleware: async (c, next) => {
        if (c.req.path === "/_tenants") return next();
        const tenant = c.req.header(header);
        if (tenant === undefined) return c.json({ error: `${header} header required`, requestId: c.get("requestId") }, 400);
        if (!counts.has(tenant)) return c.json({ error: `unknown tenant ${tenant}`, requestId: c.get("requestId") }, 403);
        await next();
        c.header("x-served-tenant", tenant);
        if (c.res.status < 400) counts.set(tenant, counts.get(tenant)! + 1);
      },

      // Global plugins may add routes of their own: they win over proxy routes.
      routes(app) {
        app.get("/_tenants", (c) => c.json(Object.fromEntries(counts)));
      },

      // The tenant's pool takes the request; the upstream learns which tenant it serves.
      beforeUpstream(ctx) {
        const tenant = ctx.request.headers.get(header)!;
        ctx.vars.set("tenant", tenant);
        ctx.upstream.pool = tenants[tenant]!;
        ctx.upstream.headers.set("x-tenant-verified", tenant);
      },

      // A failure toward the tenant's pool gets the tenant's name in its answer.
      onError(ctx, error) {
        const tenant = ctx.vars.get("tenant");
        return Response.json({ error: `${error.message} (tenant ${tenant})`, requestId: ctx.requestId }, { status: error.status });
      },

      onLog(entry) {
        if (slowMs > 0 && entry.durationMs > slowMs) log(`slow: ${entry.method} ${entry.path} took ${entry.durationMs} ms (pool ${entry.pool})`);
      },

      // Runs when a reload replaced this config (after its last request) and at shutdown.
      teardown() {
        clearInterval(report);
      },
    };
  },
});
