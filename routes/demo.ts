// The built-in demo's routing table: plain typed data, like any config. The pools' server URLs are
// filled in at start, once the demo upstreams have their ports.
import type { ConfigInput } from "../gateway/config/schema.ts";

type Routes = NonNullable<ConfigInput["routes"]>;

export const demoRoutes: Routes = [
  // By host: anything under api.localhost goes to the API.
  { name: "api-by-host", match: { host: ["api.localhost", "*.api.localhost"] }, pool: "api" },
  // By path: /api/... goes to the API too, without its /api prefix.
  { name: "api-by-path", match: { path: "/api/*" }, pool: "api", stripPrefix: "/api" },
  // By browser: phones and tablets get the mobile site.
  { name: "mobile", match: { browser: ["mobile", "tablet"] }, pool: "mobile" },
  // A redirect, nginx's `return 301`.
  { name: "old-docs", match: { path: "/docs/*" }, redirect: { to: "https://github.com/", status: 301 } },
  // Everything else: the website.
  { name: "web", pool: "web" },
];
