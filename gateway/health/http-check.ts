// One HTTP health check: GET `path` on the server, with `Host` set to `health.host` (or the server's own),
// passing when the status is one `expect` allows. A load the server reports in `X-Server-Load` is recorded
// like on any proxied response, so the capacity balancer learns from checks too.
import type { HttpHealthConfig } from "../config/schema.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { Runtime } from "../runtime/types.ts";
import { parseStatusExpectation } from "./expect.ts";
import { describeProbeError, type Probe } from "./probe.ts";

const USER_AGENT = "sluice-health-check";

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
      // fetchUpstream: redirects are answers (a 301 is judged by `expect`, not followed), the Host given is sent.
      response = await runtime.fetchUpstream(url, { method: "GET", headers, body: null, signal });
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
