// A plain listener that only redirects to HTTPS, as Caddy and Traefik users expect from port 80: every request
// gets a 308 (or the configured status) to the same host, path and query over HTTPS, on the HTTPS listener's
// port. Tried with curl following the redirect to a real HTTPS listener (certificates made by openssl), and
// with raw sockets for what curl would not send: odd Host values, IPv6 literals, HEAD, a POST with a body,
// keep-alive, HTTP/1.0. No request reaches the upstream through the redirect; each is counted and logged.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { validateConfig } from "../gateway/gateway.ts";
import { hostOf } from "../gateway/http/https-redirect.ts";
import { gateway, rawRequest, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";
import { openWire } from "./helpers/wire.ts";
import { until } from "./helpers/common.ts";
import { curlHeads, makeCertificates, type TestCertificates } from "./helpers/test-certificates.ts";

let certs: TestCertificates;
let upstream: Upstream;
let gw: Gateway;
/** The redirect listener's port, and the HTTPS listener's. */
let plain: number;
let https: number;

const portOfKind = (g: Gateway, kind: string) =>
  Number(
    g
      .listeners()
      .find((l) => l.kind === kind)!
      .address.split(":")
      .at(-1),
  );

beforeAll(async () => {
  certs = await makeCertificates("sluice-redirect-");
  await certs.leaf("a", "DNS:a.test");
  upstream = startUpstream("web");
  gw = await gateway({
    listen: [
      { address: "127.0.0.1:0", redirect: "https" },
      { address: "127.0.0.1:0", tls: { certificates: [certs.files("a")] } },
    ],
    admin: { listen: "127.0.0.1:0" },
    accessLog: { path: join(certs.dir, "access.log") },
    pools: { web: [upstream.url] },
    routes: [{ match: { path: "/*" }, pool: "web" }],
  });
  plain = portOfKind(gw, "https-redirect");
  https = portOfKind(gw, "https");
});

afterAll(async () => {
  await gw?.stop(0);
  await upstream?.stop();
  await certs?.remove();
});

/** One request on a new connection, the answer read to the gateway's close or to the end of its head. */
async function ask(head: string): Promise<{ status: number; headers: Map<string, string>; text: string }> {
  const client = await openWire(plain);
  try {
    client.write(head);
    const answer = await client.read({ method: head.slice(0, head.indexOf(" ")) });
    return { status: answer.status, headers: answer.headers, text: answer.head };
  } finally {
    client.close();
  }
}

describe("a redirect listener next to an HTTPS listener", () => {
  test("curl following the redirect lands on the HTTPS listener with the same path and query", async () => {
    const before = upstream.seen.length;
    const answer = await curlHeads([
      "-L",
      "--cacert",
      certs.ca,
      "--resolve",
      `a.test:${plain}:127.0.0.1`,
      "--resolve",
      `a.test:${https}:127.0.0.1`,
      `http://a.test:${plain}/some/path?q=1&b=two%20words`,
    ]);
    expect(answer.code).toBe(0);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe("web");
    // One request reached the upstream: the one over HTTPS.
    expect(upstream.seen.length).toBe(before + 1);
    expect(upstream.seen.at(-1)!.url).toBe("/some/path?q=1&b=two%20words");
    expect(upstream.seen.at(-1)!.headers.get("x-forwarded-proto")).toBe("https");
  });

  test("308 to https://HOST:PORT/path?query: the client's port is replaced by the HTTPS listener's", async () => {
    const answer = await ask("GET /a/b?c=d&e HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Request-Id: redirect-1\r\n\r\n");
    expect(answer.status).toBe(308);
    expect(answer.text).toStartWith("HTTP/1.1 308 Permanent Redirect\r\n");
    expect(answer.headers.get("location")).toBe(`https://Example.COM:${https}/a/b?c=d&e`);
    expect(answer.headers.get("content-length")).toBe("0");
    expect(answer.headers.get("x-request-id")).toBe("redirect-1");
    expect(answer.headers.has("strict-transport-security")).toBe(false); // never on plain HTTP (RFC 6797 §7.2)
  });

  test("an absolute-form target redirects to its own authority", async () => {
    const answer = await ask("GET http://abs.example/x?y=1 HTTP/1.1\r\nHost: other.example\r\n\r\n");
    expect(answer.headers.get("location")).toBe(`https://abs.example:${https}/x?y=1`);
  });

  test("IPv6 literals keep their brackets; IPv4 addresses and names with _ or a final dot pass", async () => {
    expect((await ask("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")).headers.get("location")).toBe(`https://[::1]:${https}/`);
    expect((await ask("GET /v6 HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n")).headers.get("location")).toBe(`https://[2001:db8::1]:${https}/v6`);
    expect((await ask("GET / HTTP/1.1\r\nHost: 10.0.0.1:80\r\n\r\n")).headers.get("location")).toBe(`https://10.0.0.1:${https}/`);
    expect((await ask("GET / HTTP/1.1\r\nHost: my_host.example.\r\n\r\n")).headers.get("location")).toBe(`https://my_host.example.:${https}/`);
  });

  test("a Host no URL should hold is refused with 400 and the connection closed; nothing is redirected", async () => {
    const refused = [
      "exa%41mple.com", // percent-encoding
      "a!b.example", // sub-delims the Host grammar allows
      "a$b'c",
      "evil.example\rLocation: https://evil.example", // a bare CR: no second field can ride in a Host
      "a b",
      "",
    ];
    for (const host of refused) {
      const answer = await rawRequest(plain, `GET /x HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect({ host, status: answer.status }).toEqual({ host, status: 400 });
      expect(answer.headers.has("location")).toBe(false);
      expect(answer.headers.get("connection")).toBe("close");
    }
    // HTTP/1.0 without Host: no host to send the client to.
    const noHost = await rawRequest(plain, "GET / HTTP/1.0\r\n\r\n");
    expect(noHost.status).toBe(400);
    expect(noHost.body).toContain("no host to redirect to");
    // Neither asterisk-form nor CONNECT names a path to redirect to.
    expect((await rawRequest(plain, "OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n")).status).toBe(400);
  });

  test("unit: the host of a Host value, or none", () => {
    expect(hostOf("a.test:80")).toBe("a.test");
    expect(hostOf("[::ffff:1.2.3.4]:1")).toBe("[::ffff:1.2.3.4]");
    expect(hostOf("[v1.x]")).toBeUndefined();
    expect(hostOf("é.test")).toBeUndefined();
    expect(hostOf(":80")).toBeUndefined();
  });

  test("HEAD gets the same redirect, without a body", async () => {
    const client = await openWire(plain);
    client.write("HEAD /h?x=1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /after HTTP/1.1\r\nHost: a.test\r\n\r\n");
    const head = await client.read({ method: "HEAD" });
    expect(head.status).toBe(308);
    expect(head.headers.get("location")).toBe(`https://a.test:${https}/h?x=1`);
    expect(head.body.length).toBe(0);
    // The next answer follows at once: nothing stood between them.
    expect((await client.read()).headers.get("location")).toBe(`https://a.test:${https}/after`);
    client.close();
  });

  test("keep-alive: several requests on one connection, each redirected, the connection left open", async () => {
    const client = await openWire(plain);
    for (const path of ["/one", "/two?x", "/three"]) {
      client.write(`GET ${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
      const answer = await client.read();
      expect(answer.status).toBe(308);
      expect(answer.headers.get("location")).toBe(`https://a.test:${https}${path}`);
      expect(answer.headers.has("connection")).toBe(false);
    }
    expect(client.ended).toBe(false);
    // Connection: close is honoured, and said.
    client.write("GET /last HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    expect((await client.read()).headers.get("connection")).toBe("close");
    await client.closed();
  });

  test("HTTP/1.0 with keep-alive is told the connection stays", async () => {
    const client = await openWire(plain);
    client.write("GET /old HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n");
    const answer = await client.read();
    expect(answer.status).toBe(308);
    expect(answer.headers.get("connection")).toBe("keep-alive");
    client.write("GET /old2 HTTP/1.0\r\nHost: a.test\r\n\r\n");
    expect((await client.read()).headers.get("connection")).toBe("close");
    await client.closed();
  });

  test("a POST with a body is redirected (308 keeps the method) and its connection closed after the answer", async () => {
    const before = upstream.seen.length;
    const client = await openWire(plain);
    client.write("POST /form HTTP/1.1\r\nHost: a.test\r\nContent-Length: 11\r\n\r\nhello=world");
    const answer = await client.read();
    expect(answer.status).toBe(308);
    expect(answer.headers.get("location")).toBe(`https://a.test:${https}/form`);
    expect(answer.headers.get("connection")).toBe("close");
    await client.closed();
    // A client that waits for 100-continue gets the redirect instead, and never sends the body.
    const waiting = await openWire(plain);
    waiting.write("PUT /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n");
    const early = await waiting.read();
    expect(early.informational).toEqual([]);
    expect(early.status).toBe(308);
    await waiting.closed();
    // curl posting through the redirect: the body arrives once, over HTTPS.
    const upload = join(certs.dir, "upload.bin");
    await Bun.write(upload, "x".repeat(200_000));
    const posted = await curlHeads([
      "-L",
      "--cacert",
      certs.ca,
      "--resolve",
      `a.test:${plain}:127.0.0.1`,
      "--resolve",
      `a.test:${https}:127.0.0.1`,
      "--data-binary",
      `@${upload}`,
      `http://a.test:${plain}/post`,
    ]);
    expect(posted.status).toBe(200);
    expect(upstream.seen.length).toBe(before + 1);
    expect(upstream.seen.at(-1)!.method).toBe("POST");
    expect(upstream.seen.at(-1)!.body.length).toBe(200_000);
  });

  test("counted in /metrics and written to the access log like other answers", async () => {
    await ask("GET /counted?q=1 HTTP/1.1\r\nHost: a.test\r\nX-Request-Id: counted-1\r\n\r\n");
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/sluice_http_requests_total\{route="",pool="",method="GET",code="308"\} \d+/);
    expect(metrics).toContain(`sluice_http_connections_active{listener="127.0.0.1:${plain}"}`);
    const path = join(certs.dir, "access.log");
    await until(async () => (await readFile(path, "utf8").catch(() => "")).includes("counted-1"), "the access log line");
    const line = (await readFile(path, "utf8")).split("\n").find((l) => l.includes("counted-1"))!;
    expect(JSON.parse(line)).toMatchObject({ status: 308, method: "GET", path: "/counted", query: "q=1", host: "a.test" });
  });

  test("/status and the dashboard call the listeners https-redirect and https", async () => {
    const status = (await (await fetch(`${gw.adminUrl}/status`)).json()) as { listeners: Array<{ kind: string; redirect?: unknown }> };
    expect(status.listeners.map((l) => l.kind)).toEqual(["https-redirect", "https", "admin"]);
    expect(status.listeners[0]!.redirect).toEqual({ status: 308, port: https });
    expect(status.listeners[1]!.redirect).toBeUndefined();
    const dashboard = await (await fetch(`${gw.adminUrl}/`)).text();
    expect(dashboard).toContain("https-redirect");
  });
});

describe("a redirect listener's settings", () => {
  test("status 301 and port 443: the Location has no port; a reload changes them", async () => {
    const config = { listen: [{ address: "127.0.0.1:0", redirect: { status: 301 as const, port: 443 } }], admin: false as const, accessLog: false };
    const g = await startGateway({ config });
    try {
      const port = portOfKind(g, "https-redirect");
      const answer = await rawRequest(port, "GET /p?q HTTP/1.1\r\nHost: a.test:80\r\nConnection: close\r\n\r\n");
      expect(answer.text).toStartWith("HTTP/1.1 301 Moved Permanently\r\n");
      expect(answer.headers.get("location")).toBe("https://a.test/p?q");
      await g.reload({ ...config, listen: [{ address: "127.0.0.1:0", redirect: { status: 307 as const, port: 8443 } }] });
      const after = await rawRequest(port, "GET /p HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
      expect(after.status).toBe(307);
      expect(after.headers.get("location")).toBe("https://a.test:8443/p");
    } finally {
      await g.stop(0);
    }
  });

  test('"https" alone with no HTTPS listener in the config: 308 to port 443', async () => {
    const g = await startGateway({ config: { listen: [{ address: "127.0.0.1:0", redirect: "https" }], admin: false, accessLog: false } });
    try {
      const answer = await rawRequest(portOfKind(g, "https-redirect"), "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
      expect(answer.status).toBe(308);
      expect(answer.headers.get("location")).toBe("https://a.test/");
    } finally {
      await g.stop(0);
    }
  });

  test("config problems: tls and redirect together, an unknown status, a port out of range, another scheme", () => {
    const problems = (listen: unknown): string[] => {
      try {
        validateConfig({ listen });
        return [];
      } catch (error) {
        return (error as { problems?: string[] }).problems ?? [String(error)];
      }
    };
    expect(problems([{ address: ":8443", tls: { certificates: [{ cert: "a.pem", key: "a.key" }] }, redirect: "https" }])).toEqual([
      'listen[0].redirect: a TLS listener cannot redirect to HTTPS: it is HTTPS already (put redirect on a plain listener) (got "https")',
    ]);
    expect(problems([{ address: ":80", redirect: { status: 303 } }])[0]).toStartWith("listen[0].redirect.status:");
    expect(problems([{ address: ":80", redirect: { port: 70000 } }])[0]).toStartWith("listen[0].redirect.port:");
    expect(problems([{ address: ":80", redirect: "http" }])[0]).toStartWith("listen[0].redirect");
    expect(problems([{ address: ":80", redirect: { status: 308, port: 8443 } }])).toEqual([]);
  });
});
