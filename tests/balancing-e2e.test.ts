// Balancing end to end, through the network: real upstreams on 127.0.0.1, the gateway in between, and
// clients from distinct loopback addresses where the algorithm keys on the client.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { gateway, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

let ups: Upstream[] = [];
let gw: Gateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  await Promise.all(ups.map((u) => u.stop()));
  ups = [];
});
afterAll(async () => {
  await gw?.stop();
});

/** GET through the gateway; resolves to the name of the upstream that answered. */
async function whoAnswers(path = "/", headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${gw!.url}${path}`, { headers });
  expect(res.status).toBe(200);
  return await res.text();
}

function counts(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}

/** A GET from a chosen loopback source address (127.0.0.x), over a raw socket. */
function getFrom(localAddress: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress }, () => {
      socket.write("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    });
    let text = "";
    socket.on("data", (d) => (text += d.toString()));
    socket.on("end", () => resolve(text.slice(text.indexOf("\r\n\r\n") + 4)));
    socket.on("error", reject);
  });
}

describe("ip-hash", () => {
  test("clients from 40 addresses keep their server, and spread over all of them", async () => {
    ups = ["a", "b", "c"].map((n) => startUpstream(n));
    gw = await gateway({ pools: { app: { balance: "ip-hash", servers: ups.map((u) => ({ url: u.url, id: u.name })) } }, routes: [{ pool: "app" }] });
    const port = Number(new URL(gw.url).port);
    const first = new Map<string, string>();
    for (let i = 2; i < 42; i++) first.set(`127.0.0.${i}`, await getFrom(`127.0.0.${i}`, port));
    for (const [ip, server] of first) {
      expect(await getFrom(ip, port)).toBe(server);
      expect(await getFrom(ip, port)).toBe(server);
    }
    const spread = counts([...first.values()]);
    expect(Object.keys(spread).sort()).toEqual(["a", "b", "c"]);
  });
});

describe("consistent-hash", () => {
  test("when one of four servers dies, only its keys move; when it returns, they come back", async () => {
    ups = ["a", "b", "c", "d"].map((n) => startUpstream(n));
    gw = await gateway({
      pools: { app: { balance: "consistent-hash", hash: "header:x-user", retries: 3, servers: ups.map((u) => ({ url: u.url, id: u.name, maxFails: 1, failTimeout: "1s" })) } },
      routes: [{ pool: "app" }],
    });
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const before = new Map<string, string>();
    for (const u of users) before.set(u, await whoAnswers("/", { "x-user": u }));
    expect(Object.keys(counts([...before.values()])).sort()).toEqual(["a", "b", "c", "d"]);

    // "c" dies: its port closes. Its keys fail over (a GET is retried); nobody else's key moves.
    const c = ups[2]!;
    await c.stop();
    const during = new Map<string, string>();
    for (const u of users) during.set(u, await whoAnswers("/", { "x-user": u }));
    for (const u of users) {
      if (before.get(u) === "c") expect(during.get(u)).not.toBe("c");
      else expect(during.get(u)).toBe(before.get(u)!);
    }

    // "c" comes back on the same port; after its failTimeout it gets exactly its own keys again.
    ups[2] = startUpstreamOn("c", c.port);
    await Bun.sleep(1_100);
    for (const u of users) expect(await whoAnswers("/", { "x-user": u })).toBe(before.get(u)!);
  });
});

/** An upstream answering its name, on a given port (a server coming back where it was). */
function startUpstreamOn(name: string, port: number): Upstream {
  const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response(name) });
  return { url: `http://127.0.0.1:${port}`, port, name, seen: [], server, stop: () => server.stop(true) } as Upstream;
}

describe("first", () => {
  test("fills the first server up to maxConns, then the next, in config order", async () => {
    const release: Array<() => void> = [];
    const hold = () => new Promise<void>((r) => release.push(r));
    ups = ["a", "b", "c"].map((n) => startUpstream(n, async () => {
      await hold();
      return new Response(n);
    }));
    gw = await gateway({ pools: { app: { balance: "first", servers: ups.map((u) => ({ url: u.url, id: u.name, maxConns: 2 })) } }, routes: [{ pool: "app" }] });
    const inFlight: Promise<string>[] = [];
    for (let i = 0; i < 5; i++) {
      inFlight.push(whoAnswers());
      await Bun.sleep(40); // one at a time, so the filling order is the pick order
    }
    const pool = gw.current.pools.get("app")!;
    expect(pool.servers.map((s) => s.active)).toEqual([2, 2, 1]);
    release.forEach((r) => r());
    expect(counts(await Promise.all(inFlight))).toEqual({ a: 2, b: 2, c: 1 });
  });
});

describe("capacity", () => {
  test("follows the load servers report in X-Server-Load", async () => {
    let loadA = "0.9";
    let loadB = "0.1";
    ups = [
      startUpstream("a", () => new Response("a", { headers: { "x-server-load": loadA } })),
      startUpstream("b", () => new Response("b", { headers: { "x-server-load": loadB } })),
    ];
    gw = await gateway({ pools: { app: { balance: "capacity", servers: ups.map((u) => ({ url: u.url, id: u.name })) } }, routes: [{ pool: "app" }] });
    for (let i = 0; i < 10; i++) await whoAnswers(); // both have reported
    const busyA = counts(await sequential(200));
    expect(busyA.b!).toBeGreaterThan(busyA.a! * 4);

    [loadA, loadB] = ["0.1", "0.9"];
    await sequential(20); // the new reports arrive
    const busyB = counts(await sequential(200));
    expect(busyB.a!).toBeGreaterThan(busyB.b! * 4);
  });
});

describe("response-time", () => {
  test("shifts load away from a server that turns slow, and back when it recovers", async () => {
    let slow = false;
    ups = [
      startUpstream("a", async () => {
        if (slow) await Bun.sleep(80);
        return new Response("a");
      }),
      startUpstream("b", () => new Response("b")),
    ];
    gw = await gateway({
      pools: { app: { balance: "response-time", latencyDecay: "200ms", servers: ups.map((u) => ({ url: u.url, id: u.name })) } },
      routes: [{ pool: "app" }],
    });
    // Two equally fast servers: both get a share (how much depends on sub-millisecond noise). First
    // connections are slower: let those measurements fade before counting.
    await sequential(20);
    await Bun.sleep(1_000);
    const fast = counts(await sequential(100));
    expect(fast.a ?? 0).toBeGreaterThan(3);
    expect(fast.b ?? 0).toBeGreaterThan(3);

    slow = true;
    await sequential(10);
    const whileSlow = counts(await sequential(100));
    expect(whileSlow.a ?? 0).toBeLessThan(5); // still probed now and then, but avoided

    slow = false;
    await Bun.sleep(1_500); // its old measurement fades (80 ms × e^-7.5); the next probe finds it fast
    await sequential(30);
    const recovered = counts(await sequential(100));
    expect(recovered.a ?? 0).toBeGreaterThan(5); // back in rotation
  });
});

describe("least-conn", () => {
  test("sends new requests to the server with fewer in flight", async () => {
    const release: Array<() => void> = [];
    ups = [
      startUpstream("a", async (req) => {
        if (new URL(req.url).pathname === "/hold") await new Promise<void>((r) => release.push(r));
        return new Response("a");
      }),
      startUpstream("b", async (req) => {
        if (new URL(req.url).pathname === "/hold") await new Promise<void>((r) => release.push(r));
        return new Response("b");
      }),
    ];
    gw = await gateway({ pools: { app: { balance: "least-conn", servers: ups.map((u) => ({ url: u.url, id: u.name })) } }, routes: [{ pool: "app" }] });
    // Three long requests: a gets two, b one (or the other way round); then short ones go to the less busy.
    const held = [whoAnswers("/hold"), whoAnswers("/hold"), whoAnswers("/hold")];
    await Bun.sleep(100);
    const pool = gw.current.pools.get("app")!;
    const [a, b] = pool.servers;
    const lessBusy = a!.active < b!.active ? "a" : "b";
    const shorts = await sequential(10);
    expect(new Set(shorts)).toEqual(new Set([lessBusy]));
    release.forEach((r) => r());
    await Promise.all(held);
  });
});

async function sequential(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await whoAnswers());
  return out;
}
