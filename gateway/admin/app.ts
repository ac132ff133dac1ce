// The admin listener: liveness, readiness, status, and run-time changes to servers. With a token, everything
// but /healthz and /readyz needs `Authorization: Bearer <token>` (load balancers probing health carry no
// secrets). Changes are POSTs, refused when a browser says they come from another site (a page the operator
// visits must not drain servers behind their back); without a token (loopback only) the Host must be an
// address or localhost too, so that a DNS-rebinding page cannot reach the API under a name of its own.
import { Hono, type Context } from "hono";
import { timingSafeEqual } from "./timing-safe.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import { poolStatus, serverStatus } from "./status.ts";
import {
  changeState,
  changeWeight,
  everyWorkerApplied,
  STATE_ACTIONS,
  weightProblem,
  type ServerChange,
  type StateAction,
  type WorkerReplies,
} from "./server-actions.ts";
import { dashboardHandler } from "./dashboard.ts";
import { reloadEndpoint } from "./reload-endpoint.ts";
import type { ReloadResult } from "../reload-result.ts";

export interface AdminDeps {
  token: string | undefined;
  ready(): boolean;
  status(): unknown | Promise<unknown>;
  /** The Prometheus text exposition for GET /metrics. */
  metrics(): string | Promise<string>;
  /** The current snapshot's pools: admin changes act on these. */
  pools(): ReadonlyMap<string, Pool>;
  /** With `--workers`: apply a change the primary just made in every worker too (undefined without workers). */
  everyWorker?(change: ServerChange): Promise<WorkerReplies> | undefined;
  /** Re-read the config file and swap it in, as SIGHUP does: resolves with the result, refused or not. */
  reload(): Promise<ReloadResult>;
  /** The dashboard's history (GET /history), when the gateway keeps one. */
  history?(): unknown;
  /** Where admin changes are recorded (one line each); defaults to stderr. */
  log?: (line: string) => void;
}

const UNPROTECTED = new Set(["/healthz", "/readyz"]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function createAdminApp(deps: AdminDeps): Hono {
  const log = deps.log ?? ((line: string) => console.error(line));
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => (deps.ready() ? c.json({ status: "ready" }) : c.json({ status: "draining" }, 503)));
  app.use("*", async (c, next) => {
    if (UNPROTECTED.has(c.req.path)) return await next();
    if (!deps.token && !isLocalName(new URL(c.req.url).hostname)) {
      return c.json({ error: "without an admin token, the admin listener answers only to an IP address or localhost" }, 403);
    }
    if (!SAFE_METHODS.has(c.req.method) && isCrossSite(c)) {
      return c.json({ error: "cross-site admin request refused" }, 403);
    }
    await next();
  });
  app.get("/", dashboardHandler(deps)); // the HTML dashboard: checks the token itself (it also takes ?token=)
  if (deps.token) {
    const expected = `Bearer ${deps.token}`;
    app.use("*", async (c, next) => {
      if (!timingSafeEqual(c.req.header("authorization") ?? "", expected)) {
        return c.json({ error: "admin token required" }, 401, { "www-authenticate": 'Bearer realm="sluice"' });
      }
      await next();
    });
  }
  app.get("/status", async (c) => c.json(await deps.status()));
  app.get("/history", (c) => (deps.history ? c.json(deps.history()) : c.json({ error: "not found" }, 404)));

  app.post("/reload", reloadEndpoint(deps.reload, log));
  app.all("/reload", (c) => c.json({ error: "use POST for reload" }, 405, { allow: "POST" }));
  app.get("/metrics", async (c) => c.body(await deps.metrics(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));

  // ---- pools and servers ----------------------------------------------------------------------------

  const findPool = (c: Context) => deps.pools().get(c.req.param("pool")!);
  const findServer = (c: Context): { pool: Pool; server: UpstreamServer } | Response => {
    const pool = findPool(c);
    if (!pool) return c.json({ error: `no pool "${c.req.param("pool")}"` }, 404);
    const server = pool.byId(c.req.param("id")!);
    if (!server) return c.json({ error: `no server "${c.req.param("id")}" in pool "${pool.name}"` }, 404);
    return { pool, server };
  };

  app.get("/pools/:pool", (c) => {
    const pool = findPool(c);
    return pool ? c.json(poolStatus(pool)) : c.json({ error: `no pool "${c.req.param("pool")}"` }, 404);
  });
  app.get("/pools/:pool/servers/:id", (c) => {
    const found = findServer(c);
    return found instanceof Response ? found : c.json(serverStatus(found.server));
  });

  // With --workers, every worker applies the change too before the answer; 504 names those that did not confirm.
  const answerChange = async (c: Context, server: UpstreamServer, change: ServerChange) => {
    const replies = await deps.everyWorker?.(change);
    if (!replies) return c.json(serverStatus(server));
    const everywhere = everyWorkerApplied(replies);
    if (!everywhere)
      log(`sluice: admin: pool "${change.pool}" server "${change.server}": ${change.action} not confirmed by every worker: ${JSON.stringify(replies)}`);
    return c.json({ ...serverStatus(server), workers: replies }, everywhere ? 200 : 504);
  };

  for (const action of STATE_ACTIONS) {
    app.post(`/pools/:pool/servers/:id/${action}`, (c) => {
      const found = findServer(c);
      if (found instanceof Response) return found;
      const before = changeState(found.pool, found.server, action as StateAction);
      log(`sluice: admin: pool "${found.pool.name}" server "${found.server.id}": ${action} (admin state ${before} -> ${found.server.adminState})`);
      return answerChange(c, found.server, { pool: found.pool.name, server: found.server.id, action });
    });
  }

  app.post("/pools/:pool/servers/:id/weight", async (c) => {
    const found = findServer(c);
    if (found instanceof Response) return found;
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      return c.json({ error: 'expected a JSON body like { "weight": 5 }' }, 400);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return c.json({ error: `expected a JSON object like { "weight": 5 } (got ${JSON.stringify(body)})` }, 400);
    }
    const unknown = Object.keys(body).filter((k) => k !== "weight");
    if (unknown.length > 0) return c.json({ error: `unknown field "${unknown[0]}": only "weight" may be set` }, 400);
    const weight = (body as { weight?: unknown }).weight;
    const problem = weightProblem(weight);
    if (problem) return c.json({ error: problem }, 400);
    const before = changeWeight(found.pool, found.server, weight as number);
    log(`sluice: admin: pool "${found.pool.name}" server "${found.server.id}": weight ${before} -> ${weight}`);
    return answerChange(c, found.server, { pool: found.pool.name, server: found.server.id, action: "weight", weight: weight as number });
  });

  // A known action with the wrong method says so, rather than "not found".
  app.all("/pools/:pool/servers/:id/:action", (c) => {
    const action = c.req.param("action");
    if (action === "weight" || (STATE_ACTIONS as readonly string[]).includes(action)) {
      return c.json({ error: `use POST for ${action}` }, 405, { allow: "POST" });
    }
    return c.json({ error: "not found" }, 404);
  });

  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}

/** An IP address (v4 or bracketed v6), `localhost` or a name under `.localhost`: names no outside DNS can point here. */
function isLocalName(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.startsWith("[") || h === "localhost" || h.endsWith(".localhost");
}

/**
 * Whether a browser says the request comes from another site: `Sec-Fetch-Site` when sent, else an `Origin`
 * whose host is not the one addressed (Go's CrossOriginProtection does the same). Clients that are not
 * browsers (curl, scripts) send neither and pass.
 */
function isCrossSite(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined) return site !== "same-origin" && site !== "none";
  const origin = c.req.header("origin");
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== new URL(c.req.url).host;
  } catch {
    return true; // "null" (sandboxed frames, file: pages) or garbage
  }
}
