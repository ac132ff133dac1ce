// The route table every proxy in the benchmark carries: a dozen routes of the kinds a real gateway has
// (hosts exact, wildcard and regex; path prefixes, an exact path and regexes; header matches) in front of
// the one the benchmark hits, written once here and rendered in each proxy's own idiom, so that no proxy
// routes less than the others. wrk sends `Host: 127.0.0.1:PORT` and no extra headers, so every request
// passes all twelve and ends at the site route. The decoy routes lead to pools on a port that refuses
// connections: if one ever matched, the run would show errors (502/503) instead of quietly passing.

export interface DecoyRoute {
  name: string;
  /** The decoy pool it leads to. */
  pool: string;
  /** "exact.host", "*.wildcard.domain" or "~regex" (the host without its port). */
  host?: string;
  /** "/prefix/*", "/exact" or "~regex". */
  path?: string;
  header?: { name: string; value: string };
}

export const DECOY_ROUTES: readonly DecoyRoute[] = [
  { name: "api-host", pool: "api", host: "api.example.com" },
  { name: "internal-hosts", pool: "internal", host: "*.internal.example.com" },
  { name: "shop-hosts", pool: "shop", host: "~^shop-[a-z]+\\.example\\.com$" },
  { name: "api", pool: "api", path: "/api/*" },
  { name: "static", pool: "static", path: "/static/*" },
  { name: "assets", pool: "static", path: "/assets/*" },
  { name: "admin", pool: "internal", path: "/admin/*" },
  { name: "health", pool: "internal", path: "/healthz" },
  { name: "versioned-users", pool: "api", path: "~^/v[0-9]+/users/" },
  { name: "legacy-scripts", pool: "legacy", path: "~\\.(php|aspx?)$" },
  { name: "beta-tenant", pool: "beta", header: { name: "x-tenant", value: "beta" } },
  { name: "canary", pool: "beta", header: { name: "x-canary", value: "always" } },
];

export const DECOY_POOLS: readonly string[] = [...new Set(DECOY_ROUTES.map((r) => r.pool))];
/** The hosts of the route the benchmark hits (any path). */
export const SITE_HOSTS = ["127.0.0.1", "localhost"];

// ── Sluice: the routes as written, tried in order ────────────────────────────────────────────────

export function sluiceRoutes(sitePool: string): object[] {
  const decoys = DECOY_ROUTES.map((r) => ({
    name: r.name,
    match: {
      ...(r.host ? { host: r.host } : {}),
      ...(r.path ? { path: r.path } : {}),
      ...(r.header ? { headers: { [r.header.name]: r.header.value } } : {}),
    },
    pool: `decoy-${r.pool}`,
  }));
  return [...decoys, { name: "site", match: { host: SITE_HOSTS, path: "/*" }, pool: sitePool }];
}

export function sluicePools(decoyPort: number): Record<string, object> {
  return Object.fromEntries(DECOY_POOLS.map((p) => [`decoy-${p}`, { servers: [{ url: `http://127.0.0.1:${decoyPort}` }] }]));
}

// ── nginx: hosts pick a server block, paths a location, headers an `if` in the fallback location ────

function nginxLocation(path: string): string {
  if (path.startsWith("~")) return `~ ${path.slice(1)}`;
  if (path.endsWith("/*")) return path.slice(0, -1);
  return `= ${path}`;
}

/** The upstream blocks of the decoy pools. */
export function nginxDecoyUpstreams(decoyPort: number): string {
  return DECOY_POOLS.map((p) => `  upstream decoy_${p} { server 127.0.0.1:${decoyPort}; }`).join("\n");
}

/** Server blocks for the host routes, on the site's listener. nginx writes hosts as Sluice does: "*.example.com"
 *  is subdomains only, "~" starts a regex. */
export function nginxHostServers(listen: string): string {
  return DECOY_ROUTES.filter((r) => r.host)
    .map(
      (r) => `  server {
    listen ${listen};
    server_name ${r.host};
    location / { proxy_pass http://decoy_${r.pool}; }
  }`,
    )
    .join("\n");
}

/** Locations inside the site's server block; `siteUpstream` serves everything the decoys do not take. */
export function nginxSiteLocations(siteUpstream: string): string {
  const paths = DECOY_ROUTES.filter((r) => r.path).map((r) => `    location ${nginxLocation(r.path!)} { proxy_pass http://decoy_${r.pool}; }`);
  const headers = DECOY_ROUTES.filter((r) => r.header).map(
    (r) => `      if ($http_${r.header!.name.replace(/-/g, "_")} = "${r.header!.value}") { proxy_pass http://decoy_${r.pool}; }`,
  );
  return `${paths.join("\n")}
    location / {
${headers.join("\n")}
      proxy_pass http://${siteUpstream};
    }`;
}

// ── HAProxy: one `use_backend … if { … }` per route, tried in order like Sluice's ───────────────────

const HOST = "req.hdr(host),field(1,:),lower";

/** HAProxy's config reader takes a backslash as escaping the next character: a regex's own must be doubled. */
const haproxyRegex = (re: string) => re.replace(/\\/g, "\\\\");

function haproxyHostTest(host: string): string {
  if (host.startsWith("~")) return `${HOST} -m reg ${haproxyRegex(host.slice(1))}`;
  if (host.startsWith("*.")) return `${HOST} -m end ${host.slice(1)}`;
  return `${HOST} -m str ${host}`;
}

function haproxyPathTest(path: string): string {
  if (path.startsWith("~")) return `path -m reg ${haproxyRegex(path.slice(1))}`;
  if (path.endsWith("/*")) return `path -m beg ${path.slice(0, -1)}`;
  return `path -m str ${path}`;
}

function haproxyTest(r: DecoyRoute): string {
  if (r.host) return haproxyHostTest(r.host);
  if (r.path) return haproxyPathTest(r.path);
  return `req.hdr(${r.header!.name}) -m str ${r.header!.value}`;
}

/** The frontend's routing rules; `siteBackend` takes the site hosts, anything else gets HAProxy's 503. */
export function haproxyRules(siteBackend: string): string {
  return [
    ...DECOY_ROUTES.map((r) => `  use_backend decoy_${r.pool} if { ${haproxyTest(r)} }`),
    `  use_backend ${siteBackend} if { ${HOST} -m str ${SITE_HOSTS.join(" ")} }`,
  ].join("\n");
}

export function haproxyDecoyBackends(decoyPort: number): string {
  return DECOY_POOLS.map((p) => `backend decoy_${p}\n  server decoy 127.0.0.1:${decoyPort}`).join("\n\n");
}
