// Route table micro-benchmark: 1000 routes, the request matches the last one (the worst case for "first match
// wins"). Plain performance.now loops, so it runs the same on Bun and Deno:
//   bun bench/routing.bench.ts        deno run bench/routing.bench.ts
import type { RouteConfig } from "../gateway/config/schema.ts";
import { compileRouteTable } from "../gateway/routing/table.ts";
import { RequestView } from "../gateway/routing/view.ts";

const N = 1000;
const ITERATIONS = 1_000_000;

function routes(match: (i: number) => RouteConfig["match"]): Array<{ route: RouteConfig; value: number }> {
  return Array.from({ length: N }, (_, i) => ({ route: { name: `r${i}`, match: match(i), pool: "app", plugins: [] } as RouteConfig, value: i }));
}

/** ns per call of `fn`, after a warm-up; `fn` returns something so the work cannot be dropped. */
function measure(label: string, fn: () => unknown): void {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) if (fn() !== undefined) sink++;
  const start = performance.now();
  for (let i = 0; i < ITERATIONS; i++) if (fn() !== undefined) sink++;
  const ns = ((performance.now() - start) * 1e6) / ITERATIONS;
  if (sink === 0) throw new Error(`${label}: nothing matched`);
  console.log(`${label.padEnd(60)} ${ns.toFixed(1).padStart(8)} ns/op`);
}

const headers = new Headers({
  host: `h${N - 1}.test`,
  "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
});
const last = (host: string, path: string) => RequestView.fromUrl("GET", `http://${host}${path}`, new Headers({ host }));

// 1. Distinct exact hosts: found by the host Map.
const byHost = compileRouteTable(routes((i) => ({ host: `h${i}.test`, path: "/api/*" })));
const v1 = last(`h${N - 1}.test`, "/api/users/42");
measure("exact hosts (host index)", () => byHost.match(v1));

// 2. Distinct first path segments, no host: found by the segment Map.
const bySegment = compileRouteTable(routes((i) => ({ path: `/svc${i}/*`, methods: ["GET", "POST"] })));
const v2 = last("any.test", `/svc${N - 1}/items`);
measure("path prefixes /svcN/* (segment index)", () => bySegment.match(v2));

// 3. Params under distinct segments: segment index, then one regex.
const byParams = compileRouteTable(routes((i) => ({ path: `/t${i}/users/:id` })));
const v3 = last("any.test", `/t${N - 1}/users/42`);
measure("params /tN/users/:id (segment index + regex)", () => byParams.match(v3));

// 4. Wildcard hosts: found through the parent-domain Map (one slice + lookup per label of the request host).
const byWildcard = compileRouteTable(routes((i) => ({ host: `*.d${i}.test` })));
const v4 = last(`www.d${N - 1}.test`, "/");
measure("wildcard hosts *.dN.test (parent-domain index)", () => byWildcard.match(v4));

// 5. Anchored regex paths with a literal first segment: indexed like prefixes.
const byRegex = compileRouteTable(routes((i) => ({ path: `~^/r${i}/` })));
const v5 = last("any.test", `/r${N - 1}/x`);
measure("regex paths ~^/rN/ (segment index from the literal start)", () => byRegex.match(v5));

// 5b. The worst case: regexes no index can rule out, so all 1000 run (linear).
const byLooseRegex = compileRouteTable(routes((i) => ({ path: `~/r${i}/` })));
measure("unanchored regex paths ~/rN/ (linear: 1000 regex tests)", () => byLooseRegex.match(v5));

// 5c. Header matchers on routes no index separates (linear: 1000 Headers.get + compare).
const byHeader = compileRouteTable(routes((i) => ({ headers: { "x-tenant": `t${i}` } })));
const v5c = RequestView.fromUrl("GET", "http://any.test/", new Headers({ "x-tenant": `t${N - 1}` }));
measure("header x-tenant: tN (linear: 1000 header reads)", () => byHeader.match(v5c));

// 6. Browser routes after 999 misses: the UA is parsed once (LRU) and a mask tested per route.
const byBrowser = compileRouteTable(routes((i) => (i === N - 1 ? { browser: "desktop" } : { host: `h${i}.test`, browser: "mobile" })));
measure("browser, 1000 routes (LRU-cached UA, fresh view per request)", () => byBrowser.match(RequestView.fromUrl("GET", "http://x.test/", headers)));

// 7. Per-request cost of the view itself, and view + match together (what the gateway pays per request).
const request = new Request(`http://h${N - 1}.test/api/users/42?x=1`, { headers: { host: `h${N - 1}.test:8080` } });
measure("RequestView.fromRequest (view only)", () => RequestView.fromRequest(request));
measure("RequestView.fromRequest + match (exact hosts)", () => byHost.match(RequestView.fromRequest(request)));
measure("... + upstreamTarget", () => byHost.match(RequestView.fromRequest(request))!.upstreamTarget);
