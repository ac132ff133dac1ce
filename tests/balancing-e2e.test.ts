// Balancing end to end, through the network: real upstreams on 127.0.0.1, the gateway in between, and
// clients from distinct loopback addresses where the algorithm keys on the client.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { until } from "./helpers/common.ts";
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
      pools: {
        app: {
          balance: "consistent-hash",
          hash: "header:x-user",
          retries: 3,
          servers: ups.map((u) => ({ url: u.url, id: u.name, maxFails: 1, failTimeout: "1s" })),
        },
      },
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
    const cUser = users.find((u) => before.get(u) === "c")!;
    await until(async () => (await whoAnswers("/", { "x-user": cUser })) === "c", "c takes its keys back after its failTimeout");
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
    ups = ["a", "b", "c"].map((n) =>
      startUpstream(n, async () => {
        await hold();
        return new Response(n);
      }),
    );
    gw = await gateway({ pools: { app: { balance: "first", servers: ups.map((u) => ({ url: u.url, id: u.name, maxConns: 2 })) } }, routes: [{ pool: "app" }] });
    const inFlight: Promise<string>[] = [];
    for (let i = 0; i < 5; i++) {
      inFlight.push(whoAnswers());
      // One at a time, so the filling order is the pick order: the next goes once this one is upstream.
      await until(() => release.length === i + 1, `request ${i + 1} reaches an upstream`);
    }
    expect(ups.map((u) => u.seen.length)).toEqual([2, 2, 1]);
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
  // Which of two equally fast servers leads at a given moment depends on sub-millisecond noise, and a server
  // that answered once in 2 ms instead of 1 waits about latencyDecay × ln 2 before it is tried again: the
  // balancer moves in time, not in numbers of requests. So each step sends requests until what it expects
  // has happened, within a deadline many decay times long.
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
    // Two equally fast servers: both get a share.
    await sendUntil("both fast servers answer 20 requests", (c) => c.a >= 20 && c.b >= 20);

    // a turns slow: once it has answered slowly, it is avoided at once.
    slow = true;
    await sendUntil("a answers slowly once", (c) => c.a >= 1);
    const whileSlow = counts(await sequential(100));
    expect(whileSlow.a ?? 0).toBeLessThan(5);
    // …but still probed now and then: its estimate decays (80 ms to b's 1 ms takes 200 ms × ln 80 ≈ 0.9 s).
    const probed = await sendUntil("slow a is probed again", (c) => c.a >= 1);
    expect(probed.b).toBeGreaterThan(probed.a * 20);

    // Fast again: the next probe finds it so, and it wins its traffic back. (A probe that happens to be slow
    // only delays this by 200 ms × ln(that latency / b's); probes go on.) While slow, it got one request in
    // about a second; back in rotation, it gets dozens.
    slow = false;
    await sendUntil("recovered a takes traffic again", (c) => c.a >= 40, 3_000);
  });
});

/**
 * Send GETs one after another until `done` holds for the counts of who answered them, or fail after
 * `timeoutMs` saying what did not happen and the counts so far.
 */
async function sendUntil(what: string, done: (counts: { a: number; b: number }) => boolean, timeoutMs = 5_000): Promise<{ a: number; b: number }> {
  const seen = { a: 0, b: 0 };
  const deadline = Date.now() + timeoutMs;
  while (!done(seen)) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (answers: a ${seen.a}, b ${seen.b})`);
    const name = await whoAnswers();
    if (name !== "a" && name !== "b") throw new Error(`unexpected answer ${name}`);
    seen[name]++;
  }
  return seen;
}

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
    await until(() => release.length === 3, "the three long requests reach the upstreams");
    const [a, b] = ups;
    const lessBusy = a!.seen.length < b!.seen.length ? "a" : "b";
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
