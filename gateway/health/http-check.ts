// One HTTP health check: GET `path` on the server, with `Host` set to `health.host` (or the server's own),
// passing when the status is one `expect` allows. A load the server reports in `X-Server-Load` is recorded
// like on any proxied response, so the capacity balancer learns from checks too. An https:// server is checked
// over TLS as its pool's requests reach it (its CA, name and client certificate), a new handshake each time.
import type { HttpHealthConfig } from "../config/schema.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { Runtime } from "../runtime/types.ts";
import { parseStatusExpectation } from "./expect.ts";
import { describeProbeError, type Probe } from "./probe.ts";
import { UpstreamPool } from "../http/upstream-pool.ts";
import { pooledFetch } from "../http/pooled-fetch.ts";

const USER_AGENT = "sluice-health-check";
/** The check's own timeout (its signal) bounds it: this only backstops. */
const CONNECT_TIMEOUT_MS = 60_000;

/**
 * The connections of checks of https:// servers: each check makes its own (kept by none), so a check tries the
 * handshake every time, as a client would, rather than one connection made long ago.
 */
let connections: UpstreamPool | undefined;
function checkConnections(runtime: Runtime): UpstreamPool {
  return (connections ??= new UpstreamPool(runtime, { maxIdle: 0, idleTimeout: 0, maxRequests: 1 }));
}

export function httpProbe(runtime: Runtime, pool: Pool, server: UpstreamServer, health: Pick<HttpHealthConfig, "path" | "host" | "expect">): Probe {
  const url = server.target + health.path;
  const expect = parseStatusExpectation(health.expect);
  return async (signal) => {
    const headers = new Headers({ "user-agent": USER_AGENT, accept: "*/*" });
    if (health.host) headers.set("host", health.host);
    // A server resolved from a DNS name is asked under that name, as requests to it are.
    else if (server.hostHeader !== server.hostPort) headers.set("host", server.hostHeader);
    let response: Response;
    try {
      // Both: redirects are answers (a 301 is judged by `expect`, not followed), the Host given is sent. An
      // https:// server is checked on the gateway's own client, which speaks TLS as the pool says (CA, name,
      // client certificate); the runtime's fetch knows none of that.
      if (server.tls) {
        headers.set("host", health.host ?? server.hostHeader);
        response = await pooledFetch(checkConnections(runtime), server, {
          method: "GET",
          pathAndQuery: health.path,
          headers,
          body: null,
          signal,
          connectTimeout: CONNECT_TIMEOUT_MS,
        });
      } else response = await runtime.fetchUpstream(url, { method: "GET", headers, body: null, signal });
    } catch (error) {
      return { ok: false, reason: describeProbeError(error) };
    }
    // Only the status matters: let the connection go rather than read a body nobody looks at.
    void response.body?.cancel().catch(() => {});
    const load = response.headers.get("x-server-load");
    if (load !== null && load.trim() !== "") pool.loadReported(server, Number(load), Date.now());
    const status = response.status;
    if (expect.test(status)) return { ok: true, status };
    return { ok: false, status, reason: `status ${status}, expected ${expect.text}` };
  };
}
