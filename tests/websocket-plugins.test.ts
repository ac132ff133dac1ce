// WebSocket upgrades on a route whose plugins work on objects: the middleware and the beforeUpstream phase see
// the upgrade before it is proxied as bytes (auth plugins guard sockets too), may refuse it, and what the phase
// changes reaches the upstream's handshake.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import type { Gateway } from "./helpers/upstream.ts";

const fixtures = resolve(import.meta.dir, "fixtures/plugins");

let gw: Gateway;
let upstream: ReturnType<typeof Bun.serve>;
const handshakes: Headers[] = [];

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, server) {
      handshakes.push(request.headers);
      return server.upgrade(request, { data: undefined }) ? undefined : new Response("not an upgrade", { status: 400 });
    },
    websocket: {
      message(ws, message) {
        ws.send(`echo ${message}`);
      },
    },
  });
  gw = await startGateway({
    configDir: fixtures,
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { ws: { servers: [{ url: `http://127.0.0.1:${upstream.port}` }] } },
      routes: [{ pool: "ws", plugins: [{ use: "./tagger.ts", options: { tag: "guard" } }] }],
    },
  });
});

afterAll(async () => {
  await gw.stop();
  upstream.stop(true);
});

/** Open a WebSocket through the gateway with extra handshake headers; resolves with the first echo, or the failure. */
function exchange(headers: Record<string, string>): Promise<{ echo?: string; failed?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(gw.url.replace("http", "ws") + "/chat", { headers } as unknown as string[]);
    ws.onopen = () => ws.send("hi");
    ws.onmessage = (event) => {
      resolve({ echo: String(event.data) });
      ws.close();
    };
    ws.onerror = (event) => resolve({ failed: (event as ErrorEvent).message ?? "error" });
  });
}

describe("an upgrade on a route with plugins", () => {
  test("passes the middleware and beforeUpstream, and the phase's header reaches the upstream's handshake", async () => {
    const before = handshakes.length;
    expect(await exchange({})).toEqual({ echo: "echo hi" });
    expect(handshakes.length).toBe(before + 1);
    expect(handshakes.at(-1)!.get("x-tag")).toBe("guard");
    expect(handshakes.at(-1)!.get("x-forwarded-for")).toBe("127.0.0.1");
  });

  test("the middleware can refuse it: the upstream never sees the handshake", async () => {
    const before = handshakes.length;
    const result = await exchange({ "x-block": "yes" });
    expect(result.failed).toBeDefined();
    expect(handshakes.length).toBe(before);
  });

  test("beforeUpstream can answer it itself: the upstream never sees the handshake", async () => {
    const before = handshakes.length;
    const result = await exchange({ "x-answer-here": "yes" });
    expect(result.failed).toBeDefined();
    expect(handshakes.length).toBe(before);
  });
});
