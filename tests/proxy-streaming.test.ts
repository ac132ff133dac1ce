// Streams that end early: a client that walks away from an endless download must make the gateway let go of
// the upstream (its stream cancelled) and release the server's in-flight count.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually } from "./helpers/common.ts";
import { gateway, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

let up: Upstream;
let gw: Gateway;
/** Per request id: whether the upstream's endless stream was cancelled and how many chunks it produced. */
const streams = new Map<string, { cancelled: boolean; chunks: number }>();

function endless(id: string, everyMs: number): ReadableStream<Uint8Array> {
  const state = { cancelled: false, chunks: 0 };
  streams.set(id, state);
  let timer: ReturnType<typeof setInterval> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setInterval(() => {
        state.chunks++;
        try {
          controller.enqueue(new TextEncoder().encode(`chunk ${state.chunks}\n`.padEnd(1024, ".")));
        } catch {
          clearInterval(timer);
        }
      }, everyMs);
    },
    cancel() {
      state.cancelled = true;
      clearInterval(timer);
    },
  });
}

beforeAll(async () => {
  up = startUpstream("up", (request) => {
    const id = request.headers.get("x-request-id")!;
    return new Response(endless(id, 20), { headers: { "content-type": "text/plain" } });
  });
  gw = await gateway({ pools: { app: [up.url] }, routes: [{ pool: "app" }] });
});

afterAll(async () => {
  await gw.stop(0);
  await up.stop();
});

const server = () => gw.current.pools.get("app")!.servers[0]!;

describe("client aborts mid-download", () => {
  test("the upstream's stream is cancelled and the server's active count returns to 0", async () => {
    const controller = new AbortController();
    const response = await fetch(gw.url + "/forever", { headers: { "x-request-id": "abort-1" }, signal: controller.signal });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let received = 0;
    while (received < 5 * 1024) {
      const { value, done } = await reader.read();
      if (done) break;
      received += value.byteLength;
    }
    expect(received).toBeGreaterThanOrEqual(5 * 1024);
    // While the body streams, the exchange is in flight on that server.
    expect(server().active).toBe(1);
    controller.abort();

    const state = streams.get("abort-1")!;
    expect(await eventually(() => state.cancelled, 2_000)).toBe(true);
    expect(await eventually(() => server().active === 0, 2_000)).toBe(true);
    const chunksAtCancel = state.chunks;
    await Bun.sleep(200);
    expect(state.chunks).toBe(chunksAtCancel); // nothing produced after the cancel
  });

  test("a client that cancels the body reader (not the fetch) also releases the upstream", async () => {
    const response = await fetch(gw.url + "/forever", { headers: { "x-request-id": "abort-2" } });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(await eventually(() => streams.get("abort-2")!.cancelled, 2_000)).toBe(true);
    expect(await eventually(() => server().active === 0, 2_000)).toBe(true);
  });

  test("ten clients abort at once, then the gateway still serves", async () => {
    const controllers = Array.from({ length: 10 }, () => new AbortController());
    const responses = await Promise.all(controllers.map((c, i) => fetch(gw.url + "/forever", { headers: { "x-request-id": `many-${i}` }, signal: c.signal })));
    await Promise.all(responses.map((r) => r.body!.getReader().read()));
    expect(server().active).toBe(10);
    for (const c of controllers) c.abort();
    expect(await eventually(() => [...Array(10).keys()].every((i) => streams.get(`many-${i}`)!.cancelled), 3_000)).toBe(true);
    expect(await eventually(() => server().active === 0, 3_000)).toBe(true);

    const after = new AbortController();
    const ok = await fetch(gw.url + "/forever", { headers: { "x-request-id": "after" }, signal: after.signal });
    expect(ok.status).toBe(200);
    after.abort();
  });

  test("a plugin that replaces (or throws over) the upstream's response lets the upstream go", async () => {
    const g = await gateway({
      pools: { app: [up.url] },
      routes: [{ pool: "app", plugins: [{ use: `${import.meta.dir}/helpers/replace-plugin.ts` }] }],
    });
    try {
      const replaced = await fetch(g.url + "/forever", { headers: { "x-request-id": "replaced", "x-replace": "1" } });
      expect(replaced.status).toBe(203);
      expect(await replaced.text()).toBe("replaced by plugin");
      const thrown = await fetch(g.url + "/forever", { headers: { "x-request-id": "thrown", "x-throw": "1" } });
      expect(thrown.status).toBe(500);
      await thrown.text();
      expect(await eventually(() => streams.get("replaced")!.cancelled && streams.get("thrown")!.cancelled, 2_000)).toBe(true);
      expect(await eventually(() => g.current.pools.get("app")!.servers[0]!.active === 0, 2_000)).toBe(true);
    } finally {
      await g.stop(0);
    }
  });

  test("a finished response releases the server too", async () => {
    const small = startUpstream("small");
    const g = await gateway({ pools: { s: [small.url] }, routes: [{ pool: "s" }] });
    try {
      for (let i = 0; i < 5; i++) expect(await (await fetch(g.url + "/")).text()).toBe("small");
      const head = await fetch(g.url + "/", { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(await eventually(() => g.current.pools.get("s")!.servers[0]!.active === 0, 2_000)).toBe(true);
      expect(g.current.pools.get("s")!.servers[0]!.requests).toBe(6);
    } finally {
      await g.stop(0);
      await small.stop();
    }
  });
});
