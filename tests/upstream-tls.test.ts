// Upstream TLS: pools whose servers are https:// URLs, against real TLS servers on 127.0.0.1 (node:https) that
// record the server name (SNI) each connection asked for and the client certificate it showed, with certificates
// made here by openssl (a CA and leaves, and a second CA the gateway does not trust). Verification against `ca`,
// the name checked (the URL's host, `serverName`, none for an IP address), `insecureSkipVerify`, mutual TLS, one
// handshake for many requests, bodies, the hono path, WebSocket upgrades, active health checks, retries, `sluice
// check` and reload with the files named in the config, and one gateway on Deno.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:https";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { copyFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeCertificates, type TestCertificates } from "./helpers/test-certificates.ts";
import {
  closeServer,
  digest,
  errorBody,
  gateway,
  generatedStream,
  listen,
  portOf,
  rawRequest,
  startUpstream,
  type Gateway,
  type Upstream,
} from "./helpers/upstream.ts";
import { denoPath, startEngineGateway } from "./helpers/engine-gateway.ts";
import { repoRoot, runCli } from "./helpers/process.ts";
import { until } from "./helpers/common.ts";
import { expectWellFormed, sampleValue } from "./helpers/metrics.ts";
import { TestDnsServer } from "./helpers/dns-server.ts";
import { loadUpstreamTls } from "../gateway/config/certificates.ts";
import type { ConfigError } from "../gateway/config/errors.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import { startGateway } from "../gateway/gateway.ts";

const TAGGER = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");

let certs: TestCertificates;
/** A CA the gateway is never told of, and its leaf for web.test. */
let stranger: TestCertificates;

/** One TLS connection as the server saw it. */
interface SeenConnection {
  /** The name the client asked for (SNI); "" when it sent none. */
  serverName: string;
  /** The client showed a certificate the test CA signed. */
  clientCertified: boolean;
}

interface TlsUpstream {
  readonly port: number;
  readonly connections: SeenConnection[];
  /** Per request: the connection it came on (index into `connections`), its path. */
  readonly requests: Array<{ connection: number; path: string }>;
  /** What GET /health answers. */
  healthStatus: number;
  close(): Promise<void>;
}

/**
 * A TLS server on 127.0.0.1 with `leaf`'s certificate (from `from`, the test CA by default). It answers "NAME PATH",
 * echoes POST bodies, answers /health with `healthStatus`, and switches protocols to an echo on an upgrade.
 * `requireClient`: only clients with a certificate the test CA signed get through the handshake.
 */
async function tlsUpstream(name: string, leaf: string, options: { from?: TestCertificates; requireClient?: boolean } = {}): Promise<TlsUpstream> {
  const from = options.from ?? certs;
  const files = from.files(leaf);
  const connections: SeenConnection[] = [];
  const requests: Array<{ connection: number; path: string }> = [];
  const index = new WeakMap<object, number>();
  const open = new Set<Socket>();
  const server: Server = createServer({
    cert: await Bun.file(files.cert).text(),
    key: await Bun.file(files.key).text(),
    ca: await Bun.file(certs.ca).text(),
    requestCert: options.requireClient === true,
    rejectUnauthorized: options.requireClient === true,
    ALPNProtocols: ["http/1.1"],
  });
  const upstream: TlsUpstream = {
    port: 0,
    connections,
    requests,
    healthStatus: 200,
    close: () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
  server.on("secureConnection", (socket: TLSSocket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    index.set(socket, connections.length);
    // Bun's node:tls shows no peer certificate: `authorized` (a certificate the test CA signed) is what it tells.
    connections.push({ serverName: typeof socket.servername === "string" ? socket.servername : "", clientCertified: socket.authorized });
  });
  server.on("request", (request, response) => {
    requests.push({ connection: index.get(request.socket) ?? -1, path: request.url ?? "" });
    if (request.url === "/health") {
      response.writeHead(upstream.healthStatus, { "content-type": "text/plain" }).end("health");
      return;
    }
    if (request.method === "POST") {
      response.writeHead(200, { "content-type": "application/octet-stream" });
      request.pipe(response);
      return;
    }
    response.writeHead(200, { "content-type": "text/plain" }).end(`${name} ${request.url}`);
  });
  server.on("upgrade", (request, socket: Socket, head: Buffer) => {
    requests.push({ connection: index.get(socket) ?? -1, path: request.url ?? "" });
    socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n");
    if (head.length > 0) socket.write(head);
    socket.on("data", (chunk) => socket.write(chunk));
    socket.on("error", () => {});
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  (upstream as { port: number }).port = (server.address() as { port: number }).port;
  return upstream;
}

/** A pool of one https:// server. */
function pool(url: string, tls?: Record<string, unknown>, more: Record<string, unknown> = {}) {
  return { servers: [{ url, maxFails: 0 }], ...(tls ? { tls } : {}), ...more };
}

beforeAll(async () => {
  certs = await makeCertificates("sluice-upstream-tls-");
  stranger = await makeCertificates("sluice-upstream-tls-stranger-");
  // One at a time per CA: openssl counts serial numbers in one file.
  await certs.leaf("web", "DNS:web.test,DNS:alt.test");
  await certs.leaf("local", "DNS:localhost");
  await certs.leaf("ip", "IP:127.0.0.1");
  await certs.leaf("client", "DNS:client.test");
  await stranger.leaf("web", "DNS:web.test");
});

afterAll(async () => {
  await certs.remove();
  await stranger.remove();
});

describe("the engine's byte path", () => {
  let web: TlsUpstream;
  let local: TlsUpstream;
  let ip: TlsUpstream;
  let impostor: TlsUpstream;
  let mutual: TlsUpstream;
  /** A plain HTTP server, named by an https:// URL. */
  let plain: Upstream;
  /** Accepts connections and never says a word: a handshake that never ends. */
  let silent: NetServer;
  const silentOpen = new Set<Socket>();
  let gw: Gateway;
  const get = (path: string, init?: RequestInit) => fetch(`${gw.url}${path}`, init);

  beforeAll(async () => {
    [web, local, ip, impostor, mutual] = await Promise.all([
      tlsUpstream("web", "web"),
      tlsUpstream("local", "local"),
      tlsUpstream("ip", "ip"),
      tlsUpstream("impostor", "web", { from: stranger }),
      tlsUpstream("mutual", "web", { requireClient: true }),
    ]);
    plain = startUpstream("plain");
    silent = createNetServer((socket) => {
      silentOpen.add(socket);
      socket.on("close", () => silentOpen.delete(socket));
      socket.on("error", () => {});
    });
    const silentPort = await listen(silent);
    const ca = certs.ca;
    const client = certs.files("client");
    gw = await gateway({
      pools: {
        named: pool(`https://127.0.0.1:${web.port}`, { ca, serverName: "web.test" }),
        alt: pool(`https://127.0.0.1:${web.port}`, { ca, serverName: "alt.test" }),
        host: pool(`https://localhost:${local.port}`, { ca }),
        ip: pool(`https://127.0.0.1:${ip.port}`, { ca }),
        unknownCa: pool(`https://127.0.0.1:${impostor.port}`, { ca, serverName: "web.test" }),
        wrongName: pool(`https://127.0.0.1:${web.port}`, { ca, serverName: "other.test" }),
        noName: pool(`https://127.0.0.1:${web.port}`, { ca }),
        systemRoots: pool(`https://127.0.0.1:${web.port}`, { serverName: "web.test" }),
        skip: pool(`https://127.0.0.1:${impostor.port}`, { insecureSkipVerify: true }),
        mtls: pool(`https://127.0.0.1:${mutual.port}`, { ca, serverName: "web.test", cert: client.cert, key: client.key }),
        mtlsWithout: pool(`https://127.0.0.1:${mutual.port}`, { ca, serverName: "web.test" }),
        notTls: pool(`https://127.0.0.1:${plain.port}`, { ca, serverName: "web.test" }),
        silent: pool(`https://127.0.0.1:${silentPort}`, { ca, serverName: "web.test" }, { timeouts: { connect: "300ms" } }),
        retried: {
          servers: [
            { url: `https://127.0.0.1:${impostor.port}`, id: "impostor" },
            { url: `https://127.0.0.1:${web.port}`, id: "good" },
          ],
          balance: "first",
          retries: 1,
          tls: { ca, serverName: "web.test" },
        },
      },
      routes: Object.entries({
        named: "named",
        alt: "alt",
        host: "host",
        ip: "ip",
        "unknown-ca": "unknownCa",
        "wrong-name": "wrongName",
        "no-name": "noName",
        system: "systemRoots",
        skip: "skip",
        mtls: "mtls",
        "mtls-without": "mtlsWithout",
        retried: "retried",
        "not-tls": "notTls",
        silent: "silent",
      })
        .map(([prefix, name]) => ({ match: { path: `/${prefix}/*` }, pool: name }))
        // Routes whose plugin works on Request/Response objects: the hono path (pooled-fetch.ts).
        .concat([
          { match: { path: "/hono/*" }, pool: "named", plugins: [{ use: TAGGER, options: { tag: "t" } }] },
          { match: { path: "/hono-unknown-ca/*" }, pool: "unknownCa", plugins: [{ use: TAGGER, options: { tag: "t" } }] },
        ] as never[]),
    });
  });

  afterAll(async () => {
    await gw?.stop(0);
    await Promise.all([web, local, ip, impostor, mutual].map((u) => u?.close()));
    await plain?.stop();
    await closeServer(silent);
  });

  test("verified against `ca`, asked by `serverName`: the server saw that name", async () => {
    const before = web.connections.length;
    const response = await get("/named/a");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("web /named/a");
    expect(web.connections.slice(before)).toEqual([{ serverName: "web.test", clientCertified: false }]);
  });

  test("without serverName, the URL's host name is sent and checked", async () => {
    const response = await get("/host/x");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("local /host/x");
    expect(local.connections.map((c) => c.serverName)).toEqual(["localhost"]);
  });

  test("an IP address URL sends no SNI, and the certificate must hold that address", async () => {
    const response = await get("/ip/x");
    expect(response.status).toBe(200);
    expect(ip.connections.map((c) => c.serverName)).toEqual([""]);
    // The web certificate names web.test and alt.test only: asked by the address, it does not pass.
    const refused = await get("/no-name/x");
    expect(refused.status).toBe(502);
  });

  test("a certificate from a CA the pool does not trust: 502 with the JSON body, the server's failure", async () => {
    const response = await get("/unknown-ca/x");
    expect(response.status).toBe(502);
    const body = await errorBody(response);
    expect(body.requestId).toBeTruthy();
    expect(body.error).toBeTruthy();
    expect(gw.current.pools.get("unknownCa")!.servers[0]!.failures).toBeGreaterThanOrEqual(1);
    expect(impostor.requests).toEqual([]);
  });

  test("the runtime's trusted roots do not vouch for the test CA", async () => {
    expect((await get("/system/x")).status).toBe(502);
  });

  test("a certificate that does not hold the name asked for: 502", async () => {
    const before = web.requests.length;
    const response = await get("/wrong-name/x");
    expect(response.status).toBe(502);
    expect((await errorBody(response)).requestId).toBeTruthy();
    expect(web.requests.length).toBe(before);
  });

  test("a server that does not speak TLS: 502, and it never gets a request", async () => {
    const response = await get("/not-tls/x");
    expect(response.status).toBe(502);
    expect((await errorBody(response)).requestId).toBeTruthy();
    expect(plain.seen).toEqual([]);
  });

  test("a handshake the server never answers is cut at timeouts.connect: 502", async () => {
    const response = await get("/silent/x");
    expect(response.status).toBe(502);
    expect((await errorBody(response)).error).toBeTruthy();
    // The connection given up on is closed, not left open in its handshake.
    await until(() => silentOpen.size === 0, "the abandoned connection closed");
  });

  test("insecureSkipVerify: the stranger's certificate is accepted", async () => {
    const response = await get("/skip/x");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("impostor /skip/x");
  });

  test("mutual TLS: the client certificate is shown; without one the server refuses (502)", async () => {
    const response = await get("/mtls/x");
    expect(response.status).toBe(200);
    expect(mutual.connections.at(-1)).toEqual({ serverName: "web.test", clientCertified: true });
    expect(mutual.requests.map((r) => r.path)).toEqual(["/mtls/x"]);
    const refused = await get("/mtls-without/x");
    expect(refused.status).toBe(502);
    expect((await errorBody(refused)).requestId).toBeTruthy();
    expect(mutual.requests.map((r) => r.path)).toEqual(["/mtls/x"]);
  });

  test("keep-alive: one handshake carries many requests", async () => {
    // A pool of its own, so that no earlier connection counts.
    const up = await tlsUpstream("kept", "web");
    const own = await gateway({
      admin: { listen: "127.0.0.1:0" },
      pools: { kept: pool(`https://127.0.0.1:${up.port}`, { ca: certs.ca, serverName: "web.test" }) },
      routes: [{ pool: "kept" }],
    });
    try {
      for (let i = 0; i < 10; i++) {
        const response = await fetch(`${own.url}/r${i}`);
        expect(await response.text()).toBe(`kept /r${i}`);
      }
      expect(up.connections.length).toBe(1);
      expect(up.requests.map((r) => r.connection)).toEqual(Array(10).fill(0));
      // /metrics counts TLS connections apart.
      const metrics = await (await fetch(`${own.adminUrl}/metrics`)).text();
      expectWellFormed(metrics);
      const labels = { address: `127.0.0.1:${up.port}`, tls: "true" };
      expect(sampleValue(metrics, "sluice_upstream_connections_opened_total", labels)).toBe(1);
      expect(sampleValue(metrics, "sluice_upstream_connections_reused_total", labels)).toBe(9);
    } finally {
      await own.stop(0);
      await up.close();
    }
  });

  test("two pools to one address with other names never share a connection", async () => {
    for (let i = 0; i < 3; i++) {
      expect(await (await get(`/named/n${i}`)).text()).toBe(`web /named/n${i}`);
      expect(await (await get(`/alt/a${i}`)).text()).toBe(`web /alt/a${i}`);
    }
    const nameOf = (path: string) => web.connections[web.requests.find((r) => r.path === path)!.connection]!.serverName;
    for (let i = 0; i < 3; i++) {
      expect(nameOf(`/named/n${i}`)).toBe("web.test");
      expect(nameOf(`/alt/a${i}`)).toBe("alt.test");
    }
  });

  test("a 4 MB POST body goes over TLS and its echo comes back whole", async () => {
    const total = 4 * 1024 * 1024;
    const sent = await digest(generatedStream(total));
    const response = await get("/named/upload", { method: "POST", body: generatedStream(total), duplex: "half" } as RequestInit);
    expect(response.status).toBe(200);
    expect(await digest(response.body!)).toEqual(sent);
  });

  test("an idempotent request whose handshake fails is retried on the next server", async () => {
    const response = await get("/retried/x");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("web /retried/x");
    const servers = gw.current.pools.get("retried")!.servers;
    expect(servers.find((s) => s.id === "impostor")!.failures).toBe(1);
  });

  test("a WebSocket upgrade to an https:// server: 101, then the tunnel speaks through TLS", async () => {
    const answer = await rawRequest(
      portOf(gw),
      [
        "GET /named/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "ping over the tunnel",
      ],
      { gapMs: 100, idleMs: 300 },
    );
    expect(answer.status).toBe(101);
    expect(answer.body.toString()).toBe("ping over the tunnel");
    expect(web.requests.at(-1)!.path).toBe("/named/ws");
  });

  test("the hono path: the same TLS, and the same 502 for a certificate it cannot trust", async () => {
    const before = web.connections.length;
    const response = await get("/hono/x");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("web /hono/x");
    expect(web.connections.slice(before).every((c) => c.serverName === "web.test")).toBe(true);
    const refused = await get("/hono-unknown-ca/x");
    expect(refused.status).toBe(502);
    // The test plugin's onError hook answers the gateway's 502 with its own body.
    expect(await refused.text()).toBe("custom 502 from t");
  });
});

describe("ALPN", () => {
  test("http/1.1 alone is offered: a server preferring h2 agrees on http/1.1", async () => {
    const files = certs.files("web");
    const agreed: string[] = [];
    // node:tls itself (Bun's node:https server does not report ALPN): one request, one fixed answer.
    const server = createTlsServer(
      { cert: await Bun.file(files.cert).text(), key: await Bun.file(files.key).text(), ALPNProtocols: ["h2", "http/1.1"] },
      (socket) => {
        agreed.push(typeof socket.alpnProtocol === "string" ? socket.alpnProtocol : "none");
        socket.on("data", () => socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
        socket.on("error", () => {});
      },
    );
    const port = await listen(server as unknown as NetServer);
    const gw = await gateway({ pools: { web: pool(`https://127.0.0.1:${port}`, { ca: certs.ca, serverName: "web.test" }) }, routes: [{ pool: "web" }] });
    try {
      const response = await fetch(`${gw.url}/x`);
      expect(await response.text()).toBe("ok");
      expect(agreed).toEqual(["http/1.1"]);
    } finally {
      await gw.stop(0);
      await closeServer(server as unknown as NetServer);
    }
  });
});

describe("servers found by DNS (resolve)", () => {
  test("each address is asked by the name looked up, and its certificate checked against that name", async () => {
    const up = await tlsUpstream("resolved", "web");
    const dns = await TestDnsServer.start();
    dns.set("web.test", { a: ["127.0.0.1"], ttl: 60 });
    const gw = await gateway({
      resolver: { servers: [dns.address] },
      pools: { web: { servers: [{ url: `https://web.test:${up.port}`, resolve: true, maxFails: 0 }], tls: { ca: certs.ca } } },
      routes: [{ pool: "web" }],
    });
    try {
      // Until the first lookup answers the pool has no server (503).
      await until(async () => (await fetch(`${gw.url}/x`)).status === 200, "the resolved server answering");
      expect(up.connections.map((c) => c.serverName)).toEqual(["web.test"]);
      expect(gw.current.pools.get("web")!.servers.map((s) => s.hostname)).toEqual(["127.0.0.1"]);
    } finally {
      await gw.stop(0);
      await Promise.all([up.close(), dns.close()]);
    }
  });
});

describe("health checks of https:// servers", () => {
  test("a check over TLS takes the server out when it answers badly and brings it back; an untrusted one is down", async () => {
    const [up, impostor] = await Promise.all([tlsUpstream("checked", "web"), tlsUpstream("impostor", "web", { from: stranger })]);
    const health = { path: "/health", interval: "50ms", timeout: "1s", rise: 1, fall: 1 };
    const gw = await gateway({
      pools: {
        checked: pool(`https://127.0.0.1:${up.port}`, { ca: certs.ca, serverName: "web.test" }, { health }),
        untrusted: pool(`https://127.0.0.1:${impostor.port}`, { ca: certs.ca, serverName: "web.test" }, { health }),
      },
      routes: [{ pool: "checked" }],
    });
    const server = (name: string) => gw.current.pools.get(name)!.servers[0]!;
    try {
      await until(() => up.requests.some((r) => r.path === "/health"), "a check reached the server");
      expect(server("checked").healthy).toBe(true);
      expect(up.connections.every((c) => c.serverName === "web.test")).toBe(true);
      up.healthStatus = 500;
      await until(() => !server("checked").healthy, "the server taken out by its checks");
      up.healthStatus = 200;
      await until(() => server("checked").healthy, "the server back after a passed check");
      await until(() => !server("untrusted").healthy, "the server whose certificate is not trusted taken out");
      expect(impostor.requests).toEqual([]);
    } finally {
      await gw.stop(0);
      await Promise.all([up.close(), impostor.close()]);
    }
  });
});

describe("the files named in the config", () => {
  test("sluice check names the key and the file of a CA or client certificate it cannot use", async () => {
    const dir = certs.dir;
    writeFileSync(join(dir, "not-pem.txt"), "not a certificate\n");
    const config = {
      pools: {
        missing: { servers: [{ url: "https://127.0.0.1:1" }], tls: { ca: "nowhere/ca.pem" } },
        garbage: { servers: [{ url: "https://127.0.0.1:1" }], tls: { ca: "not-pem.txt" } },
        mismatch: { servers: [{ url: "https://127.0.0.1:1" }], tls: { cert: "client.pem", key: "web.key" } },
        half: { servers: [{ url: "https://127.0.0.1:1" }], tls: { cert: "client.pem" } },
        plain: { servers: [{ url: "http://127.0.0.1:1" }], tls: { ca: "ca.pem" } },
        ipName: { servers: [{ url: "https://127.0.0.1:1" }], tls: { serverName: "10.0.0.1" } },
        good: { servers: [{ url: "https://127.0.0.1:1" }], tls: { ca: "ca.pem", cert: "client.pem", key: "client.key", serverName: "web.test" } },
      },
      routes: [{ pool: "good" }],
    };
    const path = join(dir, "check.json");
    writeFileSync(path, JSON.stringify(config));
    const { code, out } = await runCli(["check", "--config", path]);
    expect(code).toBe(1);
    const lines = out.trim().split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/^pools\.missing\.tls\.ca: cannot read the file \(no such file\) \(got "nowhere\/ca\.pem"\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^pools\.garbage\.tls\.ca: no PEM certificate in the file \(got "not-pem\.txt"\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^pools\.mismatch\.tls\.key: this key does not belong to the certificate "client\.pem"/));
    expect(lines).toContainEqual(expect.stringMatching(/^pools\.half\.tls\.key: a client certificate needs both cert and key/));
    expect(lines).toContainEqual(expect.stringMatching(/^pools\.plain\.tls: no server of this pool is https:\/\//));
    expect(lines).toContainEqual(expect.stringMatching(/^pools\.ipName\.tls\.serverName: an IP address is no server name/));
    expect(lines.some((line) => line.startsWith("pools.good"))).toBe(false);
    expect(lines.length).toBe(6);
  });

  test("an expired CA or client certificate is a config error naming it", () => {
    const inThreeDays = new Date(Date.now() + 3 * 86_400_000);
    const config = {
      pools: {
        web: {
          mode: "http",
          servers: [{ url: "https://127.0.0.1:1" }],
          tls: { ca: certs.ca, cert: certs.files("client").cert, key: certs.files("client").key, insecureSkipVerify: false },
        },
      },
    } as never;
    let problems: string[] = [];
    try {
      loadUpstreamTls(config, certs.dir, {}, inThreeDays);
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^pools\.web\.tls\.ca: the CA certificate \(CN=Sluice test CA\) expired on .* \(got ".*ca\.pem"\)$/),
      expect.stringMatching(/^pools\.web\.tls\.cert: the certificate expired on .* \(got ".*client\.pem"\)$/),
    ]);
  });

  test("a reload reads the files again: a CA file replaced is trusted from then on", async () => {
    const up = await tlsUpstream("reloaded", "web");
    const dir = certs.dir;
    copyFileSync(stranger.ca, join(dir, "current-ca.pem"));
    const path = join(dir, "reload.json");
    const config: ConfigInput = {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { web: { servers: [{ url: `https://127.0.0.1:${up.port}`, maxFails: 0 }], tls: { ca: "current-ca.pem", serverName: "web.test" } } },
      routes: [{ pool: "web" }],
    };
    writeFileSync(path, JSON.stringify(config));
    const gw = await startGateway({ configPath: path });
    try {
      expect((await fetch(`${gw.url}/before`)).status).toBe(502);
      copyFileSync(certs.ca, join(dir, "current-ca.pem"));
      await gw.reload();
      const response = await fetch(`${gw.url}/after`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("reloaded /after");
      // A CA file that can no longer be read refuses the reload; the running config goes on.
      writeFileSync(join(dir, "current-ca.pem"), "gone\n");
      await expect(gw.reload()).rejects.toThrow(/pools\.web\.tls\.ca: no PEM certificate/);
      expect((await fetch(`${gw.url}/still`)).status).toBe(200);
    } finally {
      await gw.stop(0);
      await up.close();
    }
  });
});

describe("on Deno", () => {
  test("verified against `ca` and asked by `serverName`, a client certificate, an untrusted server's 502", async () => {
    const [web, mutual, impostor] = await Promise.all([
      tlsUpstream("web", "web"),
      tlsUpstream("mutual", "ip", { requireClient: true }),
      tlsUpstream("impostor", "web", { from: stranger }),
    ]);
    const ca = certs.ca;
    const gw = await startEngineGateway("deno", {
      pools: {
        named: pool(`https://127.0.0.1:${web.port}`, { ca, serverName: "web.test" }),
        mtls: pool(`https://127.0.0.1:${mutual.port}`, { ca, ...certs.files("client") }),
        unknownCa: pool(`https://127.0.0.1:${impostor.port}`, { ca, serverName: "web.test" }),
      },
      routes: [{ match: { path: "/mtls/*" }, pool: "mtls" }, { match: { path: "/unknown-ca/*" }, pool: "unknownCa" }, { pool: "named" }],
    } as ConfigInput);
    try {
      for (let i = 0; i < 3; i++) expect(await (await fetch(`${gw.url}/r${i}`)).text()).toBe(`web /r${i}`);
      // One handshake for the three, with the name asked for.
      expect(web.connections).toEqual([{ serverName: "web.test", clientCertified: false }]);
      const mtls = await fetch(`${gw.url}/mtls/x`);
      expect(await mtls.text()).toBe("mutual /mtls/x");
      expect(mutual.connections).toEqual([{ serverName: "", clientCertified: true }]);
      const refused = await fetch(`${gw.url}/unknown-ca/x`);
      expect(refused.status).toBe(502);
      expect((await errorBody(refused)).requestId).toBeTruthy();
      expect(impostor.requests).toEqual([]);
    } finally {
      await gw.stop();
      await Promise.all([web.close(), mutual.close(), impostor.close()]);
    }
  });

  test("what Deno's TLS client cannot do is refused at load: insecureSkipVerify, a client certificate under another name", async () => {
    const path = join(certs.dir, "deno-check.json");
    writeFileSync(
      path,
      JSON.stringify({
        pools: {
          skip: { servers: [{ url: "https://127.0.0.1:1" }], tls: { insecureSkipVerify: true } },
          renamed: { servers: [{ url: "https://127.0.0.1:1" }], tls: { ca: "ca.pem", serverName: "web.test", cert: "client.pem", key: "client.key" } },
        },
        routes: [{ pool: "skip" }],
      }),
    );
    const proc = Bun.spawn([denoPath, "run", "-A", "gateway/cli.ts", "check", "--config", path], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect(await proc.exited).toBe(1);
    expect((out + err).trim().split("\n")).toEqual([
      expect.stringMatching(/^pools\.skip\.tls\.insecureSkipVerify: not available on Deno: its TLS client always verifies/),
      expect.stringMatching(/^pools\.renamed\.tls\.cert: not available on Deno with a server name other than the host connected to/),
    ]);
  });
});
