// The built-in demo: what `sluice` runs with no config anywhere. Three in-process upstreams behind the
// gateway on :8080, routed by host, path and browser, and a banner of curl commands to try.
import type { ConfigInput } from "../config/schema.ts";
import type { Runtime } from "../runtime/types.ts";
import { demoRoutes } from "../../routes/demo.ts";
import { startDemoUpstreams } from "./upstreams.ts";

export async function demoConfig(runtime: Runtime, listen: string, adminListen: string): Promise<ConfigInput> {
  const { urls } = await startDemoUpstreams(runtime);
  return {
    listen,
    admin: { listen: adminListen },
    pools: {
      web: { servers: [{ url: urls.web!, id: "web" }] },
      api: { servers: [{ url: urls.api!, id: "api" }] },
      mobile: { servers: [{ url: urls.mobile!, id: "mobile" }] },
    },
    routes: demoRoutes,
  };
}

export function demoBanner(url: string, adminUrl: string | undefined): string {
  const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
  return [
    "",
    `Sluice demo is running on ${url} (no sluice.config.ts or sluice.config.json here, so the built-in demo).`,
    "Try:",
    `  curl ${url}/                                   # the website upstream`,
    `  curl ${url}/api/users?page=2                   # by path: the API, with /api stripped`,
    `  curl -H 'Host: api.localhost' ${url}/users     # by host: the API`,
    `  curl -A '${iphone}' ${url}/   # by browser: the mobile site`,
    `  curl -i ${url}/docs/intro                      # a redirect`,
    ...(adminUrl ? [`  curl ${adminUrl}/status                       # the admin listener: pools and servers`] : []),
    "Write your own sluice.config.ts (see README.md) and run again to proxy your services.",
    "",
  ].join("\n");
}
