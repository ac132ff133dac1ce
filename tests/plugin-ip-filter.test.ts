// The ip-filter plugin end to end: clients connect from chosen loopback addresses (Linux routes all of 127/8 to
// the loopback interface, so a client socket bound to 127.0.0.2 or 127.0.0.3 is a distinct client) and over IPv6
// from ::1 with the address a trusted proxy would write in X-Forwarded-For. Allow and deny lists for IPv4 and IPv6,
// deny winning over allow, X-Forwarded-For ignored from an untrusted peer and read from a trusted one (the
// gateway's trustedProxies, or the plugin's own), several hops, addresses that cannot be read, the plugin as a
// global gate (also before a 404), the byte path, and the option errors `sluice check` prints.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { runCli } from "./helpers/process.ts";
import { requestObjectsMade } from "./helpers/request-objects.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

let up: Upstream;
let gw: Gateway;
/** Ports of the gateway's IPv4 loopback, IPv6 loopback and all-interfaces listeners. */
let v4: number;
let v6: number;
let dual: number;

beforeAll(async () => {
  up = startUpstream("app");
  const route = (path: string, options: Record<string, unknown>) => ({ match: { path: `/${path}/*` }, pool: "app", plugins: [{ use: "ip-filter", options }] });
  gw = await startGateway({
    config: {
      listen: ["127.0.0.1:0", "[::1]:0", "[::]:0"],
      admin: false,
      accessLog: false,
      // The gateway trusts the loopback proxies it trusts by default (127.0.0.1 and ::1), not 127.0.0.2 or .3.
      plugins: [{ use: "ip-filter", options: { deny: "127.0.0.4" } }],
      pools: { app: { servers: [{ url: up.url }] } },
      routes: [
        route("allow", { allow: ["127.0.0.2/32"] }),
        route("deny", { deny: ["127.0.0.3"] }),
        route("deny-wins", { allow: ["127.0.0.0/8"], deny: ["127.0.0.3/32"] }),
        route("v6", { allow: ["2001:db8::/32"], deny: ["2001:db8:bad::/48"] }),
        route("own-trust", { allow: ["192.0.2.0/24"], trustedProxies: ["127.0.0.2/32", "10.0.0.0/8"] }),
        route("own-trust-deny", { deny: ["198.51.100.0/24"], trustedProxies: ["127.0.0.2"] }),
      ],
    },
  });
  const port = (address: string) => Number(address.slice(address.lastIndexOf(":") + 1));
  const http = gw
    .listeners()
    .filter((l) => l.kind === "http")
    .map((l) => l.address);
  v4 = port(http.find((a) => a.startsWith("127.0.0.1:"))!);
  v6 = port(http.find((a) => a.startsWith("[::1]:"))!);
  dual = port(http.find((a) => a.startsWith("[::]:") || a.startsWith(":"))!);
});

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
});

interface Answer {
  status: number;
  head: string;
  body: string;
}

/**
 * One request on its own connection, from the local address `from` (IPv4 clients; "::1" for IPv6), with extra
 * header lines; resolves when the gateway has answered and closed.
 */
function ask(path: string, from: string, headers: string[] = [], port = from.includes(":") ? v6 : v4, method = "GET"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const host = from.includes(":") ? "::1" : "127.0.0.1";
    const socket = connect({ host, port, localAddress: from });
    const chunks: Buffer[] = [];
    socket.on("connect", () => {
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: gw.test\r\n${headers.map((h) => `${h}\r\n`).join("")}Connection: close\r\n\r\n`);
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const head = end < 0 ? text : text.slice(0, end);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: end < 0 ? "" : text.slice(end + 4) });
    });
  });
}

/** Asserts the plugin's 403: the gateway's error shape with the request id, and nothing sent upstream. */
function expectRefused(answer: Answer, seenBefore: number): void {
  expect(answer.status).toBe(403);
  expect(answer.head).toMatch(/\r\ncontent-type: application\/json\r\n/i);
  const requestId = /\r\nx-request-id: ([^\r]+)/i.exec(answer.head)?.[1];
  expect(JSON.parse(answer.body)).toEqual({ error: "client address not allowed", requestId });
  expect(up.seen.length).toBe(seenBefore);
}

function expectPassed(answer: Answer): void {
  expect(answer.status).toBe(200);
  expect(answer.body).toBe("app");
}

describe("IPv4 lists", () => {
  test("allow: the listed address gets through, another is refused before the upstream", async () => {
    expectPassed(await ask("/allow/x", "127.0.0.2"));
    expectRefused(await ask("/allow/x", "127.0.0.3"), up.seen.length);
  });

  test("deny: the listed address is refused, everything else gets through", async () => {
    expectPassed(await ask("/deny/x", "127.0.0.2"));
    expectRefused(await ask("/deny/x", "127.0.0.3"), up.seen.length);
  });

  test("deny wins over allow", async () => {
    expectPassed(await ask("/deny-wins/x", "127.0.0.2"));
    expectRefused(await ask("/deny-wins/x", "127.0.0.3"), up.seen.length);
  });

  test("an IPv4 client on a dual-stack listener (seen as ::ffff:127.0.0.2) is judged by its IPv4 address", async () => {
    expectPassed(await ask("/allow/x", "127.0.0.2", [], dual));
    expectRefused(await ask("/allow/x", "127.0.0.3", [], dual), up.seen.length);
  });

  test("HEAD and WebSocket upgrades meet the filter too", async () => {
    const before = up.seen.length;
    const head = await ask("/allow/x", "127.0.0.3", [], v4, "HEAD");
    expect(head.status).toBe(403);
    expect(head.body).toBe("");
    const upgrade = await ask("/allow/ws", "127.0.0.3", [
      "Connection: Upgrade",
      "Upgrade: websocket",
      "Sec-WebSocket-Version: 13",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]);
    expect(upgrade.status).toBe(403);
    expect(up.seen.length).toBe(before);
  });
});

describe("X-Forwarded-For", () => {
  test("a spoofed X-Forwarded-For from an untrusted peer is ignored", async () => {
    const before = up.seen.length;
    expectRefused(await ask("/allow/x", "127.0.0.3", ["X-Forwarded-For: 127.0.0.2"]), before);
    expectRefused(await ask("/deny/x", "127.0.0.3", ["X-Forwarded-For: 127.0.0.2"]), before);
    expectPassed(await ask("/deny/x", "127.0.0.2", ["X-Forwarded-For: 127.0.0.3"]));
  });

  test("IPv6: read from a trusted proxy (::1, trusted by the gateway by default), allow and deny by prefix", async () => {
    expectPassed(await ask("/v6/x", "::1", ["X-Forwarded-For: 2001:db8::7"]));
    expectRefused(await ask("/v6/x", "::1", ["X-Forwarded-For: 2001:db8:bad::1"]), up.seen.length);
    expectRefused(await ask("/v6/x", "::1"), up.seen.length); // no header: the client is ::1 itself, not allowed
    // The same claim from an untrusted IPv4 peer counts for nothing.
    expectRefused(await ask("/v6/x", "127.0.0.2", ["X-Forwarded-For: 2001:db8::7"]), up.seen.length);
  });

  test("the plugin's trustedProxies replace the gateway's: honoured from 127.0.0.2, not from 127.0.0.1 or .3", async () => {
    expectPassed(await ask("/own-trust/x", "127.0.0.2", ["X-Forwarded-For: 192.0.2.9"]));
    expectRefused(await ask("/own-trust/x", "127.0.0.3", ["X-Forwarded-For: 192.0.2.9"]), up.seen.length);
    expectRefused(await ask("/own-trust/x", "127.0.0.1", ["X-Forwarded-For: 192.0.2.9"]), up.seen.length);
  });

  test("several hops: the right-most one no trusted proxy wrote decides; what a client put left of it is never read", async () => {
    // client 192.0.2.9 → proxy 10.1.1.1 → proxy 10.2.2.2 → 127.0.0.2 → the gateway
    expectPassed(await ask("/own-trust/x", "127.0.0.2", ["X-Forwarded-For: 192.0.2.9, 10.1.1.1, 10.2.2.2"]));
    // The same chain split over two fields.
    expectPassed(await ask("/own-trust/x", "127.0.0.2", ["X-Forwarded-For: 192.0.2.9, 10.1.1.1", "X-Forwarded-For: 10.2.2.2"]));
    // A client at 198.51.100.1 that wrote an allowed address first: its own address is what the proxies appended.
    expectRefused(await ask("/own-trust/x", "127.0.0.2", ["X-Forwarded-For: 192.0.2.9, 198.51.100.1, 10.2.2.2"]), up.seen.length);
    // Only trusted proxies in the chain: the left-most of them is the client.
    expectRefused(await ask("/own-trust/x", "127.0.0.2", ["X-Forwarded-For: 10.1.1.1, 10.2.2.2"]), up.seen.length);
  });

  test("a client address that cannot be read is refused, also where only a deny list applies", async () => {
    expectPassed(await ask("/own-trust-deny/x", "127.0.0.2", ["X-Forwarded-For: 192.0.2.1"]));
    for (const hop of ["unknown", "192.0.2.1:4711", "[2001:db8::1]", "192.0.2.0/24"]) {
      expectRefused(await ask("/own-trust-deny/x", "127.0.0.2", [`X-Forwarded-For: ${hop}`]), up.seen.length);
    }
    expectRefused(await ask("/own-trust-deny/x", "127.0.0.2", ["X-Forwarded-For: 198.51.100.7"]), up.seen.length);
  });
});

describe("as a global plugin", () => {
  test("a denied client is refused on every route and before a 404; others go on to it", async () => {
    const before = up.seen.length;
    expectRefused(await ask("/deny/x", "127.0.0.4"), before);
    expectRefused(await ask("/nowhere", "127.0.0.4"), before);
    expect((await ask("/nowhere", "127.0.0.2")).status).toBe(404);
  });
});

describe("the byte path", () => {
  test("an ip-filter route makes no Request object, letting through or refusing", async () => {
    const made = await requestObjectsMade(async () => {
      expectPassed(await ask("/deny-wins/x", "127.0.0.2"));
      expectRefused(await ask("/deny-wins/x", "127.0.0.3"), up.seen.length);
      expectPassed(await ask("/v6/x", "::1", ["X-Forwarded-For: 2001:db8::7"]));
    });
    expect(made).toBe(0);
  });
});

describe("options", () => {
  test("sluice check prints one line per problem, with its path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-ip-filter-"));
    try {
      const path = join(dir, "bad-ip-filter.json");
      await writeFile(
        path,
        JSON.stringify({
          pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } },
          plugins: [{ use: "ip-filter", options: { deny: "not-an-address" } }],
          routes: [
            { pool: "app", plugins: [{ use: "ip-filter", options: { allow: ["10.0.0.0/8", "10.0.0.0/33", "2001:db8::/129"] } }] },
            { pool: "app", plugins: [{ use: "ip-filter", options: { allow: ["10.0.0.0/8"], trustedProxies: ["010.0.0.1"] } }] },
            { pool: "app", plugins: [{ use: "ip-filter", options: {} }] },
            { pool: "app", plugins: [{ use: "ip-filter", options: { alow: ["10.0.0.0/8"] } }] },
          ],
        }),
      );
      const { code, out } = await runCli(["check", "--config", path]);
      expect(code).toBe(1);
      const use = 'not an address or CIDR: use "10.0.0.0/8", "192.0.2.7" or "fd00::/8"';
      expect(out.trim().split("\n")).toEqual([
        `plugins[0].options.deny: ${use} (got "not-an-address")`,
        `routes[0].plugins[0].options.allow[1]: ${use} (got "10.0.0.0/33")`,
        `routes[0].plugins[0].options.allow[2]: ${use} (got "2001:db8::/129")`,
        `routes[1].plugins[0].options.trustedProxies[0]: ${use} (got "010.0.0.1")`,
        "routes[2].plugins[0].options: give allow, deny or both: an ip-filter with neither lets every client through (got {})",
        'routes[3].plugins[0].options: Unrecognized key: "alow" (got {"alow":["10.0.0.0/8"]})',
        'routes[3].plugins[0].options: give allow, deny or both: an ip-filter with neither lets every client through (got {"alow":["10.0.0.0/8"]})',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
