// Header hygiene, end to end on raw sockets: one Host; no CR, LF, NUL or other control character written
// into a head, whether a plugin or its config set it (the gateway's own 500) or an upstream sent it (502); a
// client's X-Request-Id kept only in a safe shape and length; X-Forwarded-For trusted only from
// `trustedProxies`; a cap on the bytes of an upstream's response head (limits.maxResponseHeaderSize) and on the
// number of request header fields. Each on the byte path and on a route whose plugins see Request objects.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import type { Socket } from "node:net";
import { until } from "../helpers/common.ts";
import { startEngineGateway, type EngineGateway } from "../helpers/engine-gateway.ts";
import { openWire, type WireResponse } from "../helpers/wire.ts";
import { recordingUpstream, type RecordedRequest, type RecordingUpstream } from "../helpers/recording-upstream.ts";
import type { ConfigInput } from "../../gateway/config/schema.ts";
import { configSchema } from "../../gateway/config/schema.ts";
import { parseWithProblems } from "../../gateway/config/errors.ts";
import { AddressSet, parseCidr } from "../../gateway/config/cidr.ts";
import { INJECTED } from "../fixtures/plugins/header-injector.ts";

/** A plugin that works on Request and Response objects: its routes go through hono. */
const OBJECT_HEADERS = resolve(import.meta.dir, "../fixtures/plugins/object-headers.ts");

const INJECTOR = resolve(import.meta.dir, "../fixtures/plugins/header-injector.ts");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Answers of the upstream that are not an echo: `/raw/<name>` writes the bytes of RAW[name], `/head/<n>` a head of n bytes. */
const RAW: Record<string, string> = {
  "bare-cr": `HTTP/1.1 200 OK\r\nX-Bad: ok\r${INJECTED}\r\nContent-Length: 2\r\n\r\nhi`,
  "bare-lf": `HTTP/1.1 200 OK\r\nX-Bad: ok\n${INJECTED}\r\nContent-Length: 2\r\n\r\nhi`,
  nul: `HTTP/1.1 200 OK\r\nX-Bad: ok\0${INJECTED}\r\nContent-Length: 2\r\n\r\nhi`,
  vt: `HTTP/1.1 200 OK\r\nX-Bad: ok\x0b${INJECTED}\r\nContent-Length: 2\r\n\r\nhi`,
  "obs-fold": `HTTP/1.1 200 OK\r\nX-Bad: ok\r\n ${INJECTED}\r\nContent-Length: 2\r\n\r\nhi`,
  "reason-crlf": `HTTP/1.1 200 OK\r${INJECTED}\r\nContent-Length: 2\r\n\r\nhi`,
};

/** Answers that are odd but valid: relayed, in a plain form. */
const VALID_RAW: Record<string, string> = {
  "length-list": "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi",
  "two-lengths": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
};

function answerRaw(request: RecordedRequest, socket: Socket): boolean {
  const [, kind, arg = ""] = request.target.split("/").slice(1);
  if (kind === "raw") {
    socket.write(Buffer.from(RAW[arg] ?? VALID_RAW[arg]!, "latin1"));
    return true;
  }
  if (kind === "head") {
    // A response head of exactly `arg` bytes: status line, padding fields of at most 8 KiB each, the blank line.
    let left = Number(arg) - "HTTP/1.1 200 OK\r\n".length - "Content-Length: 2\r\n".length - 2;
    let fields = "";
    for (let i = 0; left > 0; i++) {
      const name = `X-Pad-${i}: `;
      const size = Math.min(8192, left);
      const value = Math.max(0, size - name.length - 2);
      fields += `${name}${"p".repeat(value)}\r\n`;
      left -= name.length + value + 2;
    }
    socket.write(`HTTP/1.1 200 OK\r\n${fields}Content-Length: 2\r\n\r\nhi`);
    return true;
  }
  return false;
}

const PATHS = [
  { name: "byte path", prefix: "/e" },
  { name: "hono path", prefix: "/h" },
] as const;

/** A gateway in front of `up`: `/h…` through a route whose plugins see objects, anything else on the byte path. */
function gatewayFor(up: RecordingUpstream, extra: Partial<ConfigInput> = {}, plugins: ConfigInput["routes"] = []): Promise<EngineGateway> {
  return startEngineGateway("bun", {
    ...extra,
    pools: { app: { servers: [{ url: up.url, maxFails: 0 }] } },
    routes: [
      ...(plugins ?? []),
      { match: { path: "~^/h" }, pool: "app", plugins: [{ use: OBJECT_HEADERS, options: { request: { set: { "x-via": "hono" } } } }] },
      { pool: "app" },
    ],
  });
}

async function exchange(port: number, request: string, method = "GET"): Promise<{ response: WireResponse; raw: string }> {
  const c = await openWire(port);
  try {
    c.write(Buffer.from(request, "latin1"));
    const response = await c.read({ method });
    return { response, raw: `${response.head}\r\n\r\n${response.body.toString("latin1")}` };
  } finally {
    c.close();
  }
}

function expectJsonError(response: WireResponse, status: number): { error: string; requestId: string } {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/json");
  const body = JSON.parse(response.body.toString()) as { error: string; requestId: string };
  expect(body.requestId).toBe(response.headers.get("x-request-id")!);
  return body;
}

describe("Host", () => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  beforeAll(async () => {
    up = await recordingUpstream();
    gw = await gatewayFor(up);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  for (const { name, prefix } of PATHS) {
    test(`${name}: two Host fields are a 400, and nothing goes upstream`, async () => {
      const before = up.requests.length;
      const { response } = await exchange(gw.port, `GET ${prefix}/two HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n`);
      expectJsonError(response, 400);
      expect(up.requests.length).toBe(before);
    });

    test(`${name}: absolute-form with another Host: the target's authority is the one Host upstream`, async () => {
      const { response } = await exchange(gw.port, `GET http://b.test${prefix}/abs HTTP/1.1\r\nHost: a.test\r\n\r\n`);
      expect(response.status).toBe(200);
      const seen = up.requests.at(-1)!;
      expect(seen.target).toBe(`${prefix}/abs`);
      expect(seen.fields.filter(([n]) => n.toLowerCase() === "host").map(([, v]) => v)).toEqual(["b.test"]);
      expect(seen.field("x-forwarded-host")).toBe("b.test");
    });

    test(`${name}: absolute-form and two Host fields are still a 400`, async () => {
      const { response } = await exchange(gw.port, `GET http://b.test${prefix}/abs2 HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n`);
      expectJsonError(response, 400);
    });
  }
});

describe("what plugins and their config set: a control character is the gateway's own 500, never written; the body frames the request", () => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  beforeAll(async () => {
    up = await recordingUpstream(answerRaw);
    gw = await gatewayFor(up, {}, [
      { match: { path: "/inject/*" }, pool: "app", plugins: [{ use: INJECTOR }] },
      { match: { path: "/conf/*" }, pool: "app", plugins: [{ use: OBJECT_HEADERS, options: { response: { set: { "x-conf": `ok\r\n${INJECTED}` } } } }] },
      { match: { path: "/conf-up/*" }, pool: "app", plugins: [{ use: OBJECT_HEADERS, options: { request: { set: { "x-conf": `ok\r\n${INJECTED}` } } } }] },
    ]);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  test("Headers on Bun refuse CR, LF and NUL in values but let other controls through (which the gateway then refuses itself)", () => {
    for (const bad of ["a\r\nb", "a\nb", "a\rb", "a\0b"]) expect(() => new Headers({ x: bad })).toThrow();
    for (const passes of ["a\x0bb", "a\x1bb", "a\x7fb"]) expect(new Headers({ x: passes }).get("x")).toBe(passes);
  });

  const cases: Array<[where: string, what: string]> = [];
  for (const where of ["middleware", "before", "after", "cookie", "status"])
    for (const what of ["crlf", "lf", "cr", "nul", "vt", "esc", "del"]) cases.push([where, what]);

  test.each(cases)("%s sets a value with %s: 500 with a JSON body, the bytes never written", async (where, what) => {
    const before = up.requests.length;
    const { response, raw } = await exchange(
      gw.port,
      `GET /inject/${where}-${what} HTTP/1.1\r\nHost: a.test\r\nX-Inject: ${where}:${what}\r\nX-Request-Id: inject-${where}-${what}\r\n\r\n`,
    );
    const body = expectJsonError(response, 500);
    expect(body.requestId).toBe(`inject-${where}-${what}`);
    expect(raw).not.toContain("Injected");
    expect(raw).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/);
    for (const line of response.head.split("\r\n")) expect(line).not.toMatch(/[\r\n]/);
    // A value refused on its way up never reached the upstream; one refused on the way back came from its answer.
    const reached = up.requests.slice(before);
    expect(reached.length).toBe(where === "before" ? 0 : 1);
    for (const request of reached) expect(request.raw.toString("latin1")).not.toContain("Injected");
  });

  test("a header value with CR LF in a plugin's config is a 500 on the way back, and never sent on the way up", async () => {
    const back = await exchange(gw.port, "GET /conf/x HTTP/1.1\r\nHost: a.test\r\n\r\n");
    expectJsonError(back.response, 500);
    expect(back.raw).not.toContain("Injected");
    const before = up.requests.length;
    const upward = await exchange(gw.port, "GET /conf-up/x HTTP/1.1\r\nHost: a.test\r\n\r\n");
    expectJsonError(upward.response, 500);
    expect(up.requests.length).toBe(before);
  });

  test("a body a plugin makes longer than the Content-Length it announces is cut at that length, and the connection closed", async () => {
    const c = await openWire(gw.port);
    try {
      c.write("GET /inject/length HTTP/1.1\r\nHost: a.test\r\nX-Inject: length:none\r\n\r\n");
      const response = await c.read();
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe("twelv");
      await c.closed();
      expect(c.buffered).toBe(0);
    } finally {
      c.close();
    }
  });

  test.each(["3", "50", "abc", "5, 6"])("a Content-Length of %p a plugin sets does not frame the upstream request: the body does", async (length) => {
    const c = await openWire(gw.port);
    try {
      c.write(`POST /inject/clength HTTP/1.1\r\nHost: a.test\r\nX-Inject: clength:${length}\r\nContent-Length: 5\r\n\r\nhello`);
      const response = await c.read();
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe("POST /inject/clength 5");
      // The same connection and the upstream's stay in step: the next request gets its own answer.
      c.write("GET /inject/next HTTP/1.1\r\nHost: a.test\r\n\r\n");
      expect((await c.read()).body.toString()).toBe("GET /inject/next 0");
    } finally {
      c.close();
    }
    const [posted] = up.requests.slice(-2);
    expect(posted!.fields.filter(([n]) => n.toLowerCase() === "content-length")).toEqual([["content-length", "5"]]);
    expect(posted!.body.toString()).toBe("hello");
  });

  test("a sticky cookie path with CR LF is refused when the config is read", () => {
    const result = parseWithProblems(configSchema, { pools: { app: { servers: [{ url: "http://127.0.0.1:1" }], sticky: { path: `/\r\n${INJECTED}` } } } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.join("\n")).toContain("pools.app.sticky.path: not a cookie path");
  });
});

describe("control characters from an upstream: 502, never relayed", () => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  beforeAll(async () => {
    up = await recordingUpstream(answerRaw);
    gw = await gatewayFor(up);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  for (const { name, prefix } of PATHS) {
    test.each(Object.keys(RAW))(`${name}: a response head with %s is a 502, and its connection is dropped`, async (kind) => {
      const { response, raw } = await exchange(gw.port, `GET ${prefix}/raw/${kind} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
      expectJsonError(response, 502);
      expect(raw).not.toContain("Injected");
      const connection = up.connections[up.requests.at(-1)!.connection - 1]!;
      await until(() => connection.closed, "the gateway closed the upstream connection");
    });
  }
});

describe("odd but valid framing from an upstream is relayed in its plain form", () => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  beforeAll(async () => {
    up = await recordingUpstream(answerRaw);
    gw = await gatewayFor(up);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  for (const { name, prefix } of PATHS) {
    test.each(Object.keys(VALID_RAW))(`${name}: %s`, async (kind) => {
      const { response } = await exchange(gw.port, `GET ${prefix}/raw/${kind} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
      expect(response.status).toBe(200);
      expect(response.fields.filter(([n]) => n.toLowerCase() === "content-length")).toEqual([["content-length", "2"]]);
      expect(response.body.toString()).toBe("hi");
    });
  }
});

describe("X-Request-Id: a client's is kept only in a safe shape of at most 200 bytes", () => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  beforeAll(async () => {
    up = await recordingUpstream();
    gw = await gatewayFor(up);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const kept = ["abc-123", "trace_1.2:3@4=5+6/7", "a".repeat(200), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"];
  const replaced = ["a".repeat(201), "has space", 'quote"d', "<script>", "caf\xe9", "a,b", "semi;colon", "tab\tin", "back\\slash", ""];

  for (const { name, prefix } of PATHS) {
    test.each(kept.map((id) => [id.length > 40 ? `${id.slice(0, 20)}… (${id.length} bytes)` : id, id]))(`${name}: %s is kept`, async (_label, id) => {
      const { response } = await exchange(gw.port, `GET ${prefix}/rid HTTP/1.1\r\nHost: a.test\r\nX-Request-Id: ${id}\r\n\r\n`);
      expect(response.status).toBe(200);
      expect(response.headers.get("x-request-id")).toBe(id);
      expect(up.requests.at(-1)!.field("x-request-id")).toBe(id);
    });

    test.each(replaced.map((id) => [JSON.stringify(id.length > 40 ? `${id.slice(0, 20)}… (${id.length} bytes)` : id), id]))(
      `${name}: %s is replaced by a new id`,
      async (_label, id) => {
        const { response } = await exchange(gw.port, `GET ${prefix}/rid HTTP/1.1\r\nHost: a.test\r\nX-Request-Id: ${id}\r\n\r\n`);
        expect(response.status).toBe(200);
        const given = response.headers.get("x-request-id")!;
        expect(given).toMatch(UUID);
        const sent = up.requests
          .at(-1)!
          .fields.filter(([n]) => n.toLowerCase() === "x-request-id")
          .map(([, v]) => v);
        expect(sent).toEqual([given]);
      },
    );
  }

  test("a refused request's answer carries the client's id only when it is safe", async () => {
    const ok = await exchange(gw.port, "GET /e/x HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Request-Id: refused-1\r\n\r\n");
    expect(expectJsonError(ok.response, 400).requestId).toBe("refused-1");
    const odd = await exchange(gw.port, `GET /e/x HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Request-Id: ${"x".repeat(201)}\r\n\r\n`);
    expect(expectJsonError(odd.response, 400).requestId).toMatch(UUID);
  });
});

describe("trustedProxies", () => {
  let up: RecordingUpstream;
  /** Loopback trusted (the default), nobody trusted, and loopback trusted through a /8 range. */
  const gateways: Record<"default" | "none" | "range", EngineGateway> = {} as never;
  beforeAll(async () => {
    up = await recordingUpstream();
    gateways.default = await gatewayFor(up);
    gateways.none = await gatewayFor(up, { trustedProxies: [] });
    gateways.range = await gatewayFor(up, { trustedProxies: ["10.0.0.0/8", "127.0.0.0/8", "fd00::/8"] });
  });
  afterAll(async () => {
    for (const gw of Object.values(gateways)) await gw?.stop();
    await up?.close();
  });

  const spoofing = "X-Forwarded-For: 203.0.113.9, 198.51.100.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\n";

  for (const { name, prefix } of PATHS) {
    test(`${name}: a trusted client's X-Forwarded-For is appended to; Proto and Host are the gateway's`, async () => {
      for (const gw of [gateways.default, gateways.range]) {
        const { response } = await exchange(gw.port, `GET ${prefix}/xff HTTP/1.1\r\nHost: shop.test\r\n${spoofing}\r\n`);
        expect(response.status).toBe(200);
        const seen = up.requests.at(-1)!;
        expect(seen.field("x-forwarded-for")).toBe("203.0.113.9, 198.51.100.2, 127.0.0.1");
        expect(seen.field("x-forwarded-proto")).toBe("http");
        expect(seen.field("x-forwarded-host")).toBe("shop.test");
      }
    });

    test(`${name}: an untrusted client's X-Forwarded-For, Proto and Host are replaced by the gateway's own`, async () => {
      const { response } = await exchange(gateways.none.port, `GET ${prefix}/xff HTTP/1.1\r\nHost: shop.test\r\n${spoofing}X-Forwarded-For: 192.0.2.1\r\n\r\n`);
      expect(response.status).toBe(200);
      const seen = up.requests.at(-1)!;
      const all = (field: string) => seen.fields.filter(([n]) => n.toLowerCase() === field).map(([, v]) => v);
      expect(all("x-forwarded-for")).toEqual(["127.0.0.1"]);
      expect(all("x-forwarded-proto")).toEqual(["http"]);
      expect(all("x-forwarded-host")).toEqual(["shop.test"]);
    });

    test(`${name}: Forwarded, X-Real-Ip and other X-Forwarded-* fields pass from a trusted proxy only`, async () => {
      const claims =
        "Forwarded: for=6.6.6.6;proto=https\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Port: 443\r\nx-forwarded-prefix: /evil\r\nX-Forwarded-Ssl: on\r\nX-Other: kept\r\n";
      // (The hono path's Headers sort the names.)
      const names = (request: RecordedRequest) =>
        request.fields
          .map(([n]) => n.toLowerCase())
          .filter((n) => n !== "x-via")
          .sort();
      await exchange(gateways.default.port, `GET ${prefix}/claims HTTP/1.1\r\nHost: a.test\r\n${claims}\r\n`);
      const all = [
        "host",
        "forwarded",
        "x-real-ip",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-forwarded-ssl",
        "x-other",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-request-id",
      ];
      expect(names(up.requests.at(-1)!)).toEqual(all.sort());
      await exchange(gateways.none.port, `GET ${prefix}/claims HTTP/1.1\r\nHost: a.test\r\n${claims}\r\n`);
      const untrusted = up.requests.at(-1)!;
      expect(untrusted.field("x-other")).toBe("kept");
      for (const claim of ["forwarded", "x-real-ip", "x-forwarded-port", "x-forwarded-prefix", "x-forwarded-ssl"])
        expect([claim, untrusted.field(claim)]).toEqual([claim, undefined]);
    });

    test(`${name}: a request without Host leaves no client X-Forwarded-Host behind`, async () => {
      const { response } = await exchange(gateways.none.port, `GET ${prefix}/xfh HTTP/1.0\r\nX-Forwarded-Host: evil.test\r\n\r\n`);
      expect(response.status).toBe(200);
      expect(up.requests.at(-1)!.field("x-forwarded-host")).toBeUndefined();
    });

    test(`${name}: underscore look-alikes of the forwarded fields never reach the upstream`, async () => {
      const { response } = await exchange(
        gateways.none.port,
        `GET ${prefix}/look HTTP/1.1\r\nHost: a.test\r\nX_Forwarded_For: 6.6.6.6\r\nx-forwarded_proto: https\r\nX_Request_Id: forged\r\n\r\n`,
      );
      expect(response.status).toBe(200);
      expect(up.requests.at(-1)!.fields.filter(([n]) => n.includes("_"))).toEqual([]);
    });
  }

  test("ranges are read when the config is: IPv4, IPv6 and single addresses; anything else is a config problem", () => {
    const set = new AddressSet(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1", "fe80::/10"]);
    const inside = ["10.1.2.3", "192.0.2.7", "2001:db8:1::5", "::1", "::ffff:10.9.9.9", "fe80::1%eth0", "0:0:0:0:0:0:0:1"];
    const outside = ["11.0.0.1", "192.0.2.8", "2001:db9::1", "::2", "127.0.0.1", "not an address", "", "::ffff:11.0.0.1"];
    for (const address of inside) expect([address, set.has(address)]).toEqual([address, true]);
    for (const address of outside) expect([address, set.has(address)]).toEqual([address, false]);
    expect(new AddressSet(["0.0.0.0/0"]).has("203.0.113.1")).toBe(true);
    expect(new AddressSet(["::/0"]).has("2001:db8::1")).toBe(true);
    expect(new AddressSet([]).has("127.0.0.1")).toBe(false);
    expect(parseCidr("10.0.0.1/8")).toEqual({ family: 4, address: [0x0a000000], prefix: 8 });
    for (const bad of [
      "10.0.0.0/33",
      "10.0.0/8",
      "010.0.0.1",
      "1.2.3.256",
      "::1/129",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "10.0.0.0/",
      "10.0.0.0/08",
      "localhost",
      "fe80::1%eth0",
    ]) {
      expect([bad, parseCidr(bad)]).toEqual([bad, undefined]);
    }
    const result = parseWithProblems(configSchema, { trustedProxies: ["127.0.0.1/32", "10.0.0.0/33"] });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.problems).toEqual(['trustedProxies[1]: not an address or CIDR: use "10.0.0.0/8", "192.0.2.7" or "fd00::/8" (got "10.0.0.0/33")']);
  });
});

describe("limits.maxResponseHeaderSize", () => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  let small: EngineGateway;
  beforeAll(async () => {
    up = await recordingUpstream(answerRaw);
    gw = await gatewayFor(up);
    small = await gatewayFor(up, { limits: { maxResponseHeaderSize: "4kb" } });
  });
  afterAll(async () => {
    await gw?.stop();
    await small?.stop();
    await up?.close();
  });

  for (const { name, prefix } of PATHS) {
    test(`${name}: a response head within the limit is relayed; one byte over is a 502 and the upstream connection is closed`, async () => {
      for (const [gateway, limit] of [
        [gw, 64 * 1024],
        [small, 4 * 1024],
      ] as const) {
        const within = await exchange(gateway.port, `GET ${prefix}/head/${limit} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
        expect(within.response.status).toBe(200);
        expect(within.response.body.toString()).toBe("hi");
        const over = await exchange(gateway.port, `GET ${prefix}/head/${limit + 1} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
        expectJsonError(over.response, 502);
        const connection = up.connections[up.requests.at(-1)!.connection - 1]!;
        await until(() => connection.closed, "the gateway closed the upstream connection");
      }
    });
  }

  test("the limit is a size of at least 1kb", () => {
    const result = parseWithProblems(configSchema, { limits: { maxResponseHeaderSize: 512 } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems).toEqual(["limits.maxResponseHeaderSize: must be at least 1kb (got 512)"]);
    const parsed = parseWithProblems(configSchema, { limits: { maxResponseHeaderSize: "32kb" } });
    expect(parsed.ok && parsed.value.limits.maxResponseHeaderSize).toBe(32 * 1024);
  });
});

describe("limits.maxHeaderCount", () => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  beforeAll(async () => {
    up = await recordingUpstream();
    gw = await gatewayFor(up, { limits: { maxHeaderCount: 10 } });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const fields = (n: number) => Array.from({ length: n - 1 }, (_, i) => `X-F${i}: ${i}\r\n`).join("");
  for (const { name, prefix } of PATHS) {
    test(`${name}: 10 fields (Host included) are served, 11 are a 431`, async () => {
      const at = await exchange(gw.port, `GET ${prefix}/count HTTP/1.1\r\nHost: a.test\r\n${fields(10)}\r\n`);
      expect(at.response.status).toBe(200);
      const before = up.requests.length;
      const over = await exchange(gw.port, `GET ${prefix}/count HTTP/1.1\r\nHost: a.test\r\n${fields(11)}\r\n`);
      expectJsonError(over.response, 431);
      expect(up.requests.length).toBe(before);
    });
  }
});
