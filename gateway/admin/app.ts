// The admin listener: liveness, readiness and status. With a token, everything but /healthz and
// /readyz needs `Authorization: Bearer <token>` (load balancers probing health carry no secrets).
import { Hono } from "hono";
import { timingSafeEqual } from "./timing-safe.ts";

export interface AdminDeps {
  token: string | undefined;
  ready(): boolean;
  status(): unknown;
}

export function createAdminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => (deps.ready() ? c.json({ status: "ready" }) : c.json({ status: "draining" }, 503)));
  if (deps.token) {
    const expected = `Bearer ${deps.token}`;
    app.use("*", async (c, next) => {
      if (!timingSafeEqual(c.req.header("authorization") ?? "", expected)) {
        return c.json({ error: "admin token required" }, 401, { "www-authenticate": 'Bearer realm="sluice"' });
      }
      await next();
    });
  }
  app.get("/status", (c) => c.json(deps.status()));
  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}
