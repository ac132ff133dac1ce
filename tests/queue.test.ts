// maxConns and the wait queue, end to end: when every server of a pool is at its maxConns, requests wait
// (first in, first out) for one to free up, at most `queue.max` of them and each for at most
// `queue.timeout`; beyond that the answer is 503 JSON with Retry-After. Upstreams here hold each request
// until the test lets it go, so that "busy" is a fact and not a race against a sleep.
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { startGateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import type { Pool } from "../gateway/pool/pool.ts";
import { QueueFull, QueueTimeout, WaitQueue } from "../gateway/pool/wait-queue.ts";
import { eventually } from "./helpers/common.ts";
import { errorBody, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

/** An upstream that holds every request until `release()` (oldest first), and counts what it saw. */
interface Gated {
  up: Upstream;
  name: string;
  arrived: number;
  inFlight: number;
  maxInFlight: number;
  release(): void;
  releaseAll(): void;
}

function gatedUpstream(name: string): Gated {
  const waiting: Array<() => void> = [];
  const gated: Gated = {
    up: undefined as unknown as Upstream,
    name,
    arrived: 0,
    inFlight: 0,
    maxInFlight: 0,
    release: () => waiting.shift()?.(),
    releaseAll: () => waiting.splice(0).forEach((go) => go()),
  };
  gated.up = startUpstream(name, async () => {
    gated.arrived++;
    gated.maxInFlight = Math.max(gated.maxInFlight, ++gated.inFlight);
    await new Promise<void>((go) => waiting.push(go));
    gated.inFlight--;
    return new Response(name, { headers: { "x-upstream": name } });
  });
  return gated;
}

function cfg(ups: readonly Gated[], queue?: Record<string, unknown>, extra: Partial<ConfigInput> = {}): ConfigInput {
  return {
    listen: "127.0.0.1:0",
    admin: false,
    accessLog: false,
    pools: { app: { servers: ups.map((g) => ({ url: g.up.url, id: g.name, maxConns: 1 })), ...(queue ? { queue } : {}) } },
    routes: [{ pool: "app" }],
    ...extra,
  } as ConfigInput;
}

interface Answer {
  status: number;
  server: string | null;
  retryAfter: string | null;
  body: string;
  ms: number;
}

async function send(gw: Gateway, init: RequestInit = {}, path = "/"): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${gw.url}${path}`, init);
  const body = await res.text();
  return { status: res.status, server: res.headers.get("x-upstream"), retryAfter: res.headers.get("retry-after"), body, ms: performance.now() - started };
}

const arrivedTotal = (ups: readonly Gated[]) => ups.reduce((n, g) => n + g.arrived, 0);

describe("two servers with maxConns 1", () => {
  let ups: Gated[];
  let gw: Gateway;
  let pool: Pool;
  const start = async (queue?: Record<string, unknown>, extra?: Partial<ConfigInput>) => {
    ups = [gatedUpstream("a"), gatedUpstream("b")];
    gw = await startGateway({ config: cfg(ups, queue, extra) });
    pool = gw.current.pools.get("app")!;
  };
  /** Two requests in flight, one on each server. */
  const occupyBoth = async (): Promise<Promise<Answer>[]> => {
    const busy = [send(gw), send(gw)];
    expect(await eventually(() => ups[0]!.arrived === 1 && ups[1]!.arrived === 1)).toBe(true);
    return busy;
  };
  afterEach(async () => {
    for (const g of ups) g.releaseAll();
    await gw.stop(1_000);
    await Promise.all(ups.map((g) => g.up.stop()));
  });

  test("two concurrent requests take one server each; a third waits and is served when one finishes", async () => {
    await start();
    const busy = await occupyBoth();
    expect(pool.servers.map((s) => s.active)).toEqual([1, 1]);
    const third = send(gw);
    expect(await eventually(() => pool.queued === 1)).toBe(true);
    await Bun.sleep(50);
    expect(arrivedTotal(ups)).toBe(2); // still waiting, not sent anywhere
    ups[1]!.release();
    const done = await busy[1]!;
    expect(done).toMatchObject({ status: 200, server: "b" });
    // The third goes to the server that freed up.
    expect(await eventually(() => ups[1]!.arrived === 2)).toBe(true);
    expect(pool.queued).toBe(0);
    ups[1]!.release();
    expect(await third).toMatchObject({ status: 200, server: "b", body: "b" });
    ups[0]!.release();
    expect(await busy[0]!).toMatchObject({ status: 200, server: "a" });
    expect(pool.servers.map((s) => s.active)).toEqual([0, 0]);
  });

  test("queued requests are served first in, first out", async () => {
    await start();
    const busy = await occupyBoth();
    const queued: Promise<Answer>[] = [];
    for (let i = 0; i < 4; i++) {
      queued.push(send(gw, {}, `/q${i}`));
      expect(await eventually(() => pool.queued === i + 1)).toBe(true);
    }
    // Free a's slot again and again: each queued request in turn takes it.
    for (let i = 0; i < 4; i++) {
      ups[0]!.release();
      expect(await eventually(() => ups[0]!.arrived === i + 2)).toBe(true);
    }
    ups[0]!.releaseAll();
    ups[1]!.releaseAll();
    const answers = await Promise.all([...busy, ...queued]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(ups[0]!.up.seen.slice(1).map((s) => s.url)).toEqual(["/q0", "/q1", "/q2", "/q3"]);
  });

  test("with queue.max 1, a fourth concurrent request gets 503 JSON with Retry-After at once", async () => {
    await start({ max: 1 });
    const busy = await occupyBoth();
    const third = send(gw);
    expect(await eventually(() => pool.queued === 1)).toBe(true);
    const fourth = await send(gw);
    expect(fourth.status).toBe(503);
    expect(fourth.retryAfter).toBe("1");
    expect(fourth.ms).toBeLessThan(250);
    const body = JSON.parse(fourth.body);
    expect(body.error).toBe('no server available in pool "app"');
    expect(typeof body.requestId).toBe("string");
    expect(pool.queued).toBe(1);
    // The queued one is still served.
    ups[0]!.release();
    expect(await eventually(() => ups[0]!.arrived === 2)).toBe(true);
    ups[0]!.release();
    expect((await third).status).toBe(200);
    ups[1]!.release();
    expect((await Promise.all(busy)).map((a) => a.status)).toEqual([200, 200]);
  });

  test("with queue.max 0 nothing waits: 503 at once when every server is full", async () => {
    await start({ max: 0 });
    const busy = await occupyBoth();
    const third = await send(gw);
    expect(third.status).toBe(503);
    expect(third.retryAfter).toBe("1");
    expect(third.ms).toBeLessThan(250);
    ups[0]!.release();
    ups[1]!.release();
    await Promise.all(busy);
  });

  test('with queue.timeout "300ms", a waiting request gets 503 after ~300 ms', async () => {
    await start({ timeout: "300ms" });
    const busy = await occupyBoth();
    const late = await send(gw);
    expect(late.status).toBe(503);
    expect(late.retryAfter).toBe("1");
    await errorBody(new Response(late.body, { headers: { "content-type": "application/json" } }));
    expect(late.ms).toBeGreaterThanOrEqual(280);
    expect(late.ms).toBeLessThan(900);
    expect(pool.queued).toBe(0);
    expect(arrivedTotal(ups)).toBe(2);
    ups[0]!.release();
    ups[1]!.release();
    expect((await Promise.all(busy)).map((a) => a.status)).toEqual([200, 200]);
  });

  test("a client that gives up while queued leaves the queue; nothing is sent upstream for it", async () => {
    await start();
    const busy = await occupyBoth();
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const gone = controllers.map((c) => fetch(`${gw.url}/`, { signal: c.signal }).catch((e: Error) => e));
    expect(await eventually(() => pool.queued === 3)).toBe(true);
    for (const c of controllers) c.abort();
    for (const result of await Promise.all(gone)) expect(result).toBeInstanceOf(Error);
    expect(await eventually(() => pool.queued === 0, 2_000)).toBe(true);
    // A slot freeing up now goes to the next live request, not to a ghost.
    ups[0]!.release();
    const next = send(gw);
    expect(await eventually(() => ups[0]!.arrived === 2 || ups[1]!.arrived === 2)).toBe(true);
    ups[0]!.releaseAll();
    ups[1]!.releaseAll();
    expect((await next).status).toBe(200);
    await Promise.all(busy);
    expect(arrivedTotal(ups)).toBe(3);
    expect(pool.servers.map((s) => s.active)).toEqual([0, 0]);
  });

  test("active never exceeds maxConns during a burst of 50 concurrent requests; all are served", async () => {
    await start();
    let maxActive = 0;
    const sampler = setInterval(() => {
      for (const s of pool.servers) maxActive = Math.max(maxActive, s.active);
    }, 1);
    // Upstreams answer each request after a short hold, as a slow handler would.
    const pump = setInterval(() => {
      ups[0]!.release();
      ups[1]!.release();
    }, 5);
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => send(gw)));
      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
      expect(arrivedTotal(ups)).toBe(50);
      expect(ups[0]!.arrived).toBeGreaterThan(10);
      expect(ups[1]!.arrived).toBeGreaterThan(10);
    } finally {
      clearInterval(pump);
      clearInterval(sampler);
    }
    expect(maxActive).toBe(1);
    expect(ups.map((g) => g.maxInFlight)).toEqual([1, 1]);
    expect(pool.queued).toBe(0);
    expect(pool.servers.map((s) => s.active)).toEqual([0, 0]);
  });

  test("/status shows queued", async () => {
    await start(undefined, { admin: { listen: "127.0.0.1:0", token: "tok" } });
    const busy = await occupyBoth();
    const waiting = [send(gw), send(gw)];
    expect(await eventually(() => pool.queued === 2)).toBe(true);
    const status = (await (await fetch(`${gw.adminUrl}/status`, { headers: { authorization: "Bearer tok" } })).json()) as {
      pools: { app: { queued: number; servers: Array<{ id: string; active: number; maxConns: number }> } };
    };
    expect(status.pools.app.queued).toBe(2);
    expect(status.pools.app.servers.map((s) => [s.id, s.active, s.maxConns])).toEqual([
      ["a", 1, 1],
      ["b", 1, 1],
    ]);
    ups[0]!.releaseAll();
    ups[1]!.releaseAll();
    const pump = setInterval(() => {
      ups[0]!.releaseAll();
      ups[1]!.releaseAll();
    }, 5);
    try {
      expect((await Promise.all([...busy, ...waiting])).map((a) => a.status)).toEqual([200, 200, 200, 200]);
    } finally {
      clearInterval(pump);
    }
  });

  test("a server enabled through the admin API takes a queued request at once", async () => {
    const quiet = spyOn(console, "error").mockImplementation(() => {});
    try {
      ups = [gatedUpstream("a"), gatedUpstream("b")];
      gw = await startGateway({
        config: {
          ...cfg(ups, undefined, { admin: { listen: "127.0.0.1:0", token: "tok" } }),
          pools: {
            app: {
              servers: [
                { url: ups[0]!.up.url, id: "a", maxConns: 1 },
                { url: ups[1]!.up.url, id: "b", maxConns: 1, down: true },
              ],
            },
          },
        } as ConfigInput,
      });
      pool = gw.current.pools.get("app")!;
      const first = send(gw);
      expect(await eventually(() => ups[0]!.arrived === 1)).toBe(true);
      const second = send(gw);
      expect(await eventually(() => pool.queued === 1)).toBe(true);
      const res = await fetch(`${gw.adminUrl}/pools/app/servers/b/enable`, { method: "POST", headers: { authorization: "Bearer tok" } });
      expect(res.status).toBe(200);
      // Served by b while a is still busy.
      expect(await eventually(() => ups[1]!.arrived === 1, 1_000)).toBe(true);
      expect(pool.queued).toBe(0);
      ups[1]!.release();
      expect(await second).toMatchObject({ status: 200, server: "b" });
      ups[0]!.release();
      expect((await first).status).toBe(200);
    } finally {
      quiet.mockRestore();
    }
  });

  test("a sticky client whose server is at maxConns is balanced anew (and rebound) rather than queued", async () => {
    ups = [gatedUpstream("a"), gatedUpstream("b")];
    const base = cfg(ups);
    gw = await startGateway({ config: { ...base, pools: { app: { ...(base.pools as any).app, sticky: {} } } } as ConfigInput });
    pool = gw.current.pools.get("app")!;
    // Bind a client to a.
    const bind = fetch(`${gw.url}/`);
    expect(await eventually(() => ups[0]!.arrived === 1)).toBe(true);
    ups[0]!.release();
    const bound = await bind;
    expect(bound.headers.get("x-upstream")).toBe("a");
    const cookie = bound.headers.getSetCookie()[0]!.split(";")[0]!;
    await bound.text();
    // Someone else occupies a.
    const other = fetch(`${gw.url}/`, { headers: { cookie } });
    expect(await eventually(() => ups[0]!.arrived === 2)).toBe(true);
    // The bound client's next request finds a full: it goes to b, with a cookie for b.
    const next = fetch(`${gw.url}/`, { headers: { cookie } });
    expect(await eventually(() => ups[1]!.arrived === 1)).toBe(true);
    ups[1]!.release();
    const moved = await next;
    expect(moved.headers.get("x-upstream")).toBe("b");
    expect(moved.headers.getSetCookie()[0]).toStartWith("SLUICE=");
    expect(moved.headers.getSetCookie()[0]!.split(";")[0]).not.toBe(cookie);
    await moved.text();
    ups[0]!.release();
    await (await other).text();
  });
});

describe("WaitQueue", () => {
  test("first in, first out; full at max", async () => {
    const q = new WaitQueue(2, 1_000);
    const order: number[] = [];
    const one = q.wait().then(() => order.push(1));
    const two = q.wait().then(() => order.push(2));
    await expect(q.wait()).rejects.toBeInstanceOf(QueueFull);
    expect(q.length).toBe(2);
    q.wakeOne();
    q.wakeOne();
    await Promise.all([one, two]);
    expect(order).toEqual([1, 2]);
    expect(q.length).toBe(0);
  });

  test("waiting again after a fruitless wake-up keeps the place (ahead of later arrivals, even when full)", async () => {
    const q = new WaitQueue(2, 1_000);
    const place = await Promise.all([q.wait(), (q.wakeOne(), undefined)]).then(([p]) => p);
    // While the first was awake, two others arrived: the queue is full.
    const later = [q.wait(), q.wait()];
    const again = q.wait(undefined, place);
    expect(q.length).toBe(3);
    let first = 0;
    void again.then(() => (first ||= 1));
    void later[0]!.then(() => (first ||= 2));
    q.wakeOne();
    await Bun.sleep(1);
    expect(first).toBe(1);
    q.wakeAll();
    await Promise.all(later);
  });

  test("the deadline is set once, on arrival: waiting again does not extend it", async () => {
    const q = new WaitQueue(10, 200);
    const started = performance.now();
    const pending = q.wait();
    await Bun.sleep(120);
    q.wakeOne();
    const place = await pending;
    await expect(q.wait(undefined, place)).rejects.toBeInstanceOf(QueueTimeout);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(300);
    expect(q.length).toBe(0);
  });

  test("an abort leaves the queue at once; an already aborted signal never enters it", async () => {
    const q = new WaitQueue(10, 5_000);
    const controller = new AbortController();
    const waiting = q.wait(controller.signal);
    expect(q.length).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(QueueTimeout);
    expect(q.length).toBe(0);
    await expect(q.wait(controller.signal)).rejects.toBeInstanceOf(QueueTimeout);
    expect(q.length).toBe(0);
  });

  test("wakeAll wakes everyone", async () => {
    const q = new WaitQueue(10, 5_000);
    const all = [q.wait(), q.wait(), q.wait()];
    q.wakeAll();
    await Promise.all(all);
    expect(q.length).toBe(0);
  });
});
