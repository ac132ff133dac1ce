// Balancing seen from the upstreams: smooth weighted round-robin splits traffic exactly by weight, and
// backup servers only get traffic while no primary is available.
import { afterEach, expect, test } from "bun:test";
import { gateway, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function upstream(name: string, port = 0): Upstream {
  const u = port === 0 ? startUpstream(name) : startUpstreamOn(name, port);
  cleanup.push(() => u.stop());
  return u;
}

/** A recording upstream on a given port (to bring a stopped server back at its address). */
function startUpstreamOn(name: string, port: number): Upstream {
  const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response(name) });
  return { url: `http://127.0.0.1:${port}`, port, name, seen: [], server, stop: () => server.stop(true) };
}

async function gw(config: Parameters<typeof gateway>[0]): Promise<Gateway> {
  const g = await gateway(config);
  cleanup.push(() => g.stop(0));
  return g;
}

/** Send `n` GETs (8 at a time) and count the answers by upstream name. */
async function spread(url: string, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let sent = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (sent < n) {
        sent++;
        const response = await fetch(url);
        const text = response.status === 200 ? await response.text() : `status ${response.status}`;
        counts[text] = (counts[text] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

test("round robin with weights 1/2/3 over 600 requests gives 100/200/300", async () => {
  const [a, b, c] = [upstream("a"), upstream("b"), upstream("c")];
  const g = await gw({
    pools: {
      app: {
        balance: "round-robin",
        servers: [
          { url: a.url, weight: 1 },
          { url: b.url, weight: 2 },
          { url: c.url, weight: 3 },
        ],
      },
    },
    routes: [{ pool: "app" }],
  });
  expect(await spread(g.url + "/", 600)).toEqual({ a: 100, b: 200, c: 300 });
  expect([a.seen.length, b.seen.length, c.seen.length]).toEqual([100, 200, 300]);
  expect(g.current.pools.get("app")!.servers.map((s) => s.requests)).toEqual([100, 200, 300]);
});

test("smooth: weight 3 of 6 never gets a burst longer than its share", async () => {
  const [a, b, c] = [upstream("a"), upstream("b"), upstream("c")];
  const g = await gw({
    pools: {
      app: {
        servers: [
          { url: a.url, weight: 1 },
          { url: b.url, weight: 2 },
          { url: c.url, weight: 3 },
        ],
      },
    },
    routes: [{ pool: "app" }],
  });
  const order: string[] = [];
  for (let i = 0; i < 12; i++) order.push(await (await fetch(g.url + "/")).text());
  expect(order.join("")).not.toContain("ccc");
  expect(order.filter((x) => x === "c")).toHaveLength(6);
});

test("a backup server gets traffic only while every primary is unavailable", async () => {
  const p1 = upstream("p1");
  const p2 = upstream("p2");
  const backup = upstream("backup");
  const g = await gw({
    pools: {
      app: {
        retries: 2,
        servers: [
          { url: p1.url, failTimeout: "300ms" },
          { url: p2.url, failTimeout: "300ms" },
          { url: backup.url, backup: true },
        ],
      },
    },
    routes: [{ pool: "app" }],
  });
  expect(await spread(g.url + "/", 40)).toEqual({ p1: 20, p2: 20 });
  expect(backup.seen).toHaveLength(0);

  // Only one primary down: the other takes everything, the backup still nothing.
  await p1.stop();
  expect(await spread(g.url + "/", 20)).toEqual({ p2: 20 });
  expect(backup.seen).toHaveLength(0);

  // Both primaries down: the backup answers (the first request finds out by retrying onto it).
  await p2.stop();
  expect(await spread(g.url + "/", 20)).toEqual({ backup: 20 });

  // A primary back at its address: once its failTimeout has passed, traffic leaves the backup.
  upstream("p1-again", p1.port);
  await Bun.sleep(400);
  const after = await spread(g.url + "/", 20);
  expect(after["p1-again"]).toBeGreaterThanOrEqual(19);
  expect(after.backup ?? 0).toBeLessThanOrEqual(1);
});

test("primaries `down: true` from the start: the backup serves", async () => {
  const p = upstream("p");
  const backup = upstream("backup");
  const g = await gw({
    pools: {
      app: {
        servers: [
          { url: p.url, down: true },
          { url: backup.url, backup: true },
        ],
      },
    },
    routes: [{ pool: "app" }],
  });
  expect(await spread(g.url + "/", 10)).toEqual({ backup: 10 });
  expect(p.seen).toHaveLength(0);
});
