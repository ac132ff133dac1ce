// Balancing micro-benchmark: ns per pick for every algorithm over 4, 16 and 64 servers. Each pick goes through
// the pool's own eligibility test (server.available) and keeps 8 requests in flight (active++ on pick, -- eight
// picks later), so least-conn and p2c see changing loads and hash algorithms see a new key each time (1024
// keys in turn). The `baseline` row is that loop around a selector that returns servers[0]: subtract it to
// get the algorithm alone. Plain performance.now loops, so it runs the same on Bun and Deno:
//   bun bench/balancing.bench.ts        deno run bench/balancing.bench.ts
import { balancingAlgorithms, createSelector } from "../gateway/balancing/registry.ts";
import type { SelectionInput, Selector } from "../gateway/balancing/selector.ts";
import { UpstreamServer } from "../gateway/pool/server.ts";

const SIZES = [4, 16, 64];
const WARMUP = 200_000;
const ITERATIONS = 1_000_000;
const IN_FLIGHT = 8;

function makeServers(n: number, now: number): UpstreamServer[] {
  return Array.from({ length: n }, (_, i) => {
    const port = 9001 + i;
    const server = new UpstreamServer(`http://127.0.0.1:${port}`, "127.0.0.1", port, {
      id: `s${i + 1}`,
      weight: 1 + (i % 3),
      backup: false,
      down: false,
      maxConns: 0,
      maxFails: 1,
      failTimeout: 10_000,
      slowStart: 0,
    });
    server.observeLatency(5 + (i % 7), now - 50); // response-time: every server measured
    server.live.recordLoad((i % 10) / 10, now - 50); // capacity: every report fresh
    return server;
  });
}

const baseline = (): Selector => ({ needsHashKey: false, pick: (servers) => servers[0] });

/** ns per pick of `selector` over `servers`. */
function measure(selector: Selector, servers: UpstreamServer[], now: number): number {
  const inputs: SelectionInput[] = Array.from({ length: 1024 }, (_, i) => ({
    now,
    clientIp: `10.0.${i >> 8}.${i & 255}`,
    hashKey: `user-${i}`,
    uri: `/items/${i}?page=2`,
  }));
  const eligible = (s: UpstreamServer) => s.available(now);
  const window: Array<UpstreamServer | undefined> = new Array(IN_FLIGHT).fill(undefined);
  let sink = 0;
  const run = (count: number) => {
    for (let i = 0; i < count; i++) {
      const chosen = selector.pick(servers, eligible, inputs[i & 1023]!);
      if (chosen === undefined) continue;
      chosen.active++;
      const slot = i % IN_FLIGHT;
      const done = window[slot];
      if (done) done.active--;
      window[slot] = chosen;
      sink++;
    }
  };
  run(WARMUP);
  const start = performance.now();
  run(ITERATIONS);
  const ns = ((performance.now() - start) * 1e6) / ITERATIONS;
  if (sink === 0) throw new Error("nothing picked");
  for (const s of window) if (s) s.active--;
  window.fill(undefined);
  return ns;
}

const now = Date.now();
const rows: Array<[string, number[]]> = [];
for (const name of ["baseline", ...balancingAlgorithms]) {
  const cells = SIZES.map((n) => {
    const servers = makeServers(n, now);
    const selector = name === "baseline" ? baseline() : createSelector(name, { hash: "cookie:user", servers });
    return measure(selector, servers, now);
  });
  rows.push([name, cells]);
}

console.log(`ns per pick (${ITERATIONS.toLocaleString("en")} picks after ${WARMUP.toLocaleString("en")} warm-up; weights 1–3, ${IN_FLIGHT} in flight)`);
console.log(`${"algorithm".padEnd(18)}${SIZES.map((n) => `${n} servers`.padStart(12)).join("")}`);
for (const [name, cells] of rows) console.log(`${name.padEnd(18)}${cells.map((ns) => ns.toFixed(1).padStart(12)).join("")}`);
