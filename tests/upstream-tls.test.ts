// Upstream TLS: pools whose servers are https:// URLs, against real TLS servers on 127.0.0.1 (node:https) that
// record the server name (SNI) each connection asked for and the client certificate it showed, with certificates
// made here by openssl (a CA and leaves, and a second CA the gateway does not trust). Verification against `ca`,
// the name checked (the URL's host, `serverName`, none for an IP address), `insecureSkipVerify`, mutual TLS, one
// handshake for many requests, bodies, the hono path, WebSocket upgrades, active health checks, retries, `sluice
// check` and reload with the files named in the config, and one gateway on Deno.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:https";
import type { TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeCertificates, type TestCertificates } from "./helpers/test-certificates.ts";
import { digest, errorBody, gateway, generatedStream, portOf, rawRequest, type Gateway } from "./helpers/upstream.ts";
import { startEngineGateway } from "./helpers/engine-gateway.ts";
import { runCli } from "./helpers/process.ts";
import { until } from "./helpers/common.ts";
import { loadUpstreamTls } from "../gateway/config/certificates.ts";
import { ConfigError } from "../gateway/config/errors.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";

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
    close: () => new Promise((resolve) => {
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
        retried: {
          servers: [{ url: `https://127.0.0.1:${impostor.port}`, id: "impostor" }, { url: `https://127.0.0.1:${web.port}`, id: "good" }],
          balance: "first",
          retries: 1,
          tls: { ca, serverName: "web.test" },
        },
      },
      routes: Object.entries({
        named: "named", alt: "alt", host: "host", ip: "ip", "unknown-ca": "unknownCa", "wrong-name": "wrongName", "no-name": "noName",
        system: "systemRoots", skip: "skip", mtls: "mtls", "mtls-without": "mtlsWithout", retried: "retried",
      }).map(([prefix, name]) => ({ match: { path: `/${prefix}/*` }, pool: name })),
    });
  });

  afterAll(async () => {
    await gw?.stop(0);
    await Promise.all([web, local, ip, impostor, mutual].map((u) => u?.close()));
  });

  test("verified against `ca`, asked by `serverName`: the server saw that name", async () => {
    const before = web.connections.length;
    const response = await get("/named/a");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("web /named/a");
    expect(web.connections.slice(before).map((c) => c.serverName)).toEqual(["web.test"]);
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
    const own = await gateway({ pools: { kept: pool(`https://127.0.0.1:${up.port}`, { ca: certs.ca, serverName: "web.test" }) }, routes: [{ pool: "kept" }] });
    try {
      for (let i = 0; i < 10; i++) {
        const response = await fetch(`${own.url}/r${i}`);
        expect(await response.text()).toBe(`kept /r${i}`);
      }
      expect(up.connections.length).toBe(1);
      expect(up.requests.map((r) => r.connection)).toEqual(Array(10).fill(0));
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
    const answer = await rawRequest(portOf(gw), [
      "GET /named/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      "ping over the tunnel",
    ], { gapMs: 100, idleMs: 300 });
    expect(answer.status).toBe(101);
    expect(answer.body.toString()).toBe("ping over the tunnel");
    expect(web.requests.at(-1)!.path).toBe("/named/ws");
  });
});
