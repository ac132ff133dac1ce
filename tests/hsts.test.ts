// Strict-Transport-Security on an HTTPS listener (tls.hsts): on every answer sent over it — proxied, static
// files, route redirects, plugin refusals, the gateway's own 404/502 and its refusals of malformed requests —
// in place of an upstream's own; never on plain HTTP (RFC 6797 §7.2) nor on an HTTPS listener without it. A
// reload changes it. Read with curl over real TLS (certificates made by openssl) and a raw TLS socket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { readFileSync } from "node:fs";
import { validateConfig, type Gateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import { gateway, parseRaw, startUpstream, type Upstream } from "./helpers/upstream.ts";
import { deadPort } from "./helpers/common.ts";
import { cliPath, spawnCommand } from "./helpers/process.ts";
import { startEngineGateway } from "./helpers/engine-gateway.ts";
import { curlHeads, fieldValues, makeCertificates, type TestCertificates } from "./helpers/test-certificates.ts";

let certs: TestCertificates;
let upstream: Upstream;
let gw: Gateway;
let config: ConfigInput;
/** The plain listener's port, the HTTPS one with HSTS, the HTTPS one without. */
let plain: number;
let hsts: number;
let bare: number;

const YEAR = "max-age=31536000";

beforeAll(async () => {
  certs = await makeCertificates("sluice-hsts-");
  await certs.leaf("a", "DNS:a.test");
  await mkdir(join(certs.dir, "static"));
  await writeFile(join(certs.dir, "static", "page.html"), "<p>static</p>");
  upstream = startUpstream("web", (request) => {
    // An upstream with its own policy: the listener's replaces it.
    if (new URL(request.url).pathname === "/app/own-sts") return new Response("own", { headers: { "strict-transport-security": "max-age=5" } });
    return undefined;
  });
  const tls = { certificates: [certs.files("a")] };
  // Addresses of their own: a reload finds each listener by its address.
  [plain, hsts, bare] = [await deadPort(), await deadPort(), await deadPort()];
  config = {
    listen: [{ address: `127.0.0.1:${plain}` }, { address: `127.0.0.1:${hsts}`, tls: { ...tls, hsts: true } }, { address: `127.0.0.1:${bare}`, tls }],
    admin: false,
    accessLog: false,
    pools: { web: { servers: [{ url: upstream.url }] }, dead: { retries: 0, servers: [{ url: `http://127.0.0.1:${await deadPort()}`, maxFails: 0 }] } },
    routes: [
      { match: { path: "/static/*" }, static: { root: certs.dir } },
      { match: { path: "/moved" }, redirect: { to: "/elsewhere", status: 301 } },
      { match: { path: "/dead/*" }, pool: "dead" },
      { match: { path: "/staff/*" }, pool: "web", plugins: [{ use: "ip-filter", options: { deny: ["127.0.0.0/8"] } }] },
      { match: { path: "/app/*" }, pool: "web" },
    ],
  };
  gw = await gateway(config as Parameters<typeof gateway>[0]);
});

afterAll(async () => {
  await gw?.stop(0);
  await upstream?.stop();
  await certs?.remove();
});

/** One request over HTTPS to the listener on `port`, with curl: the answer's status and fields. */
function over(port: number, path: string, extra: string[] = []) {
  return curlHeads(["--cacert", certs.ca, "--resolve", `a.test:${port}:127.0.0.1`, ...extra, `https://a.test:${port}${path}`]);
}

/** Raw bytes over TLS to `port`: what the gateway sent back until it closed. */
function rawTls(port: number, bytes: string): Promise<ReturnType<typeof parseRaw>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = tlsConnect({ host: "127.0.0.1", port, servername: "a.test", ca: readFileSync(certs.ca) }, () => socket.write(bytes));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => socket.end());
    socket.on("close", () => resolve(parseRaw(Buffer.concat(chunks))));
    socket.on("error", reject);
  });
}

describe("an HTTPS listener with hsts: true", () => {
  test("a proxied answer carries Strict-Transport-Security: max-age of a year", async () => {
    const answer = await over(hsts, "/app/x");
    expect(answer.status).toBe(200);
    expect(answer.body).toBe("web");
    expect(fieldValues(answer, "strict-transport-security")).toEqual([YEAR]);
  });

  test("the upstream's own Strict-Transport-Security is replaced: one field, the listener's", async () => {
    const answer = await over(hsts, "/app/own-sts");
    expect(answer.body).toBe("own");
    expect(fieldValues(answer, "strict-transport-security")).toEqual([YEAR]);
  });

  test("the gateway's own answers carry it: 404, 502, a static file, a route redirect, a plugin's 403, HEAD", async () => {
    for (const [path, status] of [
      ["/nothing", 404],
      ["/dead/x", 502],
      ["/static/page.html", 200],
      ["/moved", 301],
      ["/staff/x", 403],
    ] as const) {
      const answer = await over(hsts, path);
      expect({ path, status: answer.status, sts: fieldValues(answer, "strict-transport-security") }).toEqual({ path, status, sts: [YEAR] });
    }
    const head = await over(hsts, "/app/x", ["-I"]);
    expect(head.status).toBe(200);
    expect(fieldValues(head, "strict-transport-security")).toEqual([YEAR]);
  });

  test("a malformed request refused by the parser (400) carries it too", async () => {
    const answer = await rawTls(hsts, "GET /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    expect(answer.status).toBe(400);
    expect(answer.headers.get("strict-transport-security")).toBe(YEAR);
  });
});

describe("where there is none", () => {
  test("the plain listener: no Strict-Transport-Security from the gateway, on answers or errors", async () => {
    for (const path of ["/app/x", "/nothing", "/static/page.html"]) {
      const answer = await curlHeads([`http://127.0.0.1:${plain}${path}`]);
      expect({ path, sts: fieldValues(answer, "strict-transport-security") }).toEqual({ path, sts: [] });
    }
  });

  test("an HTTPS listener without hsts adds none, and passes the upstream's own untouched", async () => {
    expect(fieldValues(await over(bare, "/app/x"), "strict-transport-security")).toEqual([]);
    expect(fieldValues(await over(bare, "/nothing"), "strict-transport-security")).toEqual([]);
    expect(fieldValues(await over(bare, "/app/own-sts"), "strict-transport-security")).toEqual(["max-age=5"]);
  });
});

describe("settings", () => {
  test("a reload changes the value, and a reload without hsts removes it", async () => {
    const listen = (hstsSetting: unknown) => [
      { address: `127.0.0.1:${plain}` },
      { address: `127.0.0.1:${hsts}`, tls: { certificates: [certs.files("a")], hsts: hstsSetting } },
      { address: `127.0.0.1:${bare}`, tls: { certificates: [certs.files("a")] } },
    ];
    await gw.reload({ ...config, listen: listen({ maxAge: "1d", includeSubDomains: true }) } as ConfigInput);
    expect(fieldValues(await over(hsts, "/app/x"), "strict-transport-security")).toEqual(["max-age=86400; includeSubDomains"]);
    expect(fieldValues(await over(hsts, "/nothing"), "strict-transport-security")).toEqual(["max-age=86400; includeSubDomains"]);
    await gw.reload({ ...config, listen: listen({ maxAge: "730d", includeSubDomains: true, preload: true }) } as ConfigInput);
    expect(fieldValues(await over(hsts, "/app/x"), "strict-transport-security")).toEqual(["max-age=63072000; includeSubDomains; preload"]);
    await gw.reload({ ...config, listen: listen(false) } as ConfigInput);
    expect(fieldValues(await over(hsts, "/app/x"), "strict-transport-security")).toEqual([]);
    expect(fieldValues(await over(hsts, "/app/own-sts"), "strict-transport-security")).toEqual(["max-age=5"]);
  });

  test("config problems: preload below a year or without includeSubDomains, hsts outside tls", () => {
    const problems = (entry: unknown): string[] => {
      try {
        validateConfig({ listen: [entry] });
        return [];
      } catch (error) {
        return (error as { problems?: string[] }).problems ?? [String(error)];
      }
    };
    const tls = (hstsSetting: unknown) => ({ address: ":8443", tls: { certificates: [{ cert: "a.pem", key: "a.key" }], hsts: hstsSetting } });
    expect(problems(tls({ preload: true }))[0]).toStartWith("listen[0].tls.hsts: preload needs maxAge");
    expect(problems(tls({ maxAge: "30d", includeSubDomains: true, preload: true }))[0]).toStartWith("listen[0].tls.hsts: preload needs maxAge");
    expect(problems(tls({ maxAge: "soon" }))[0]).toStartWith("listen[0].tls.hsts.maxAge: not a duration");
    expect(problems({ address: ":80", hsts: true }).length).toBe(1);
    expect(problems(tls(true))).toEqual([]);
    expect(problems(tls({ maxAge: 0 }))).toEqual([]); // max-age=0: browsers forget the host (RFC 6797 §6.1.1)
  });

  test("on Deno too: a redirect listener sends curl to the HTTPS listener, whose answer carries the field", async () => {
    const [redirectPort, httpsPort] = [await deadPort(), await deadPort()];
    const deno = await startEngineGateway("deno", {
      listen: [
        { address: `127.0.0.1:${httpsPort}`, tls: { certificates: [certs.files("a")], hsts: { maxAge: "2h" } } },
        { address: `127.0.0.1:${redirectPort}`, redirect: { status: 301 } },
      ],
      pools: { web: { servers: [{ url: upstream.url }] } },
      routes: [{ match: { path: "/app/*" }, pool: "web" }],
    });
    try {
      const answer = await curlHeads([
        "-L",
        "--cacert",
        certs.ca,
        "--resolve",
        `a.test:${redirectPort}:127.0.0.1`,
        "--resolve",
        `a.test:${httpsPort}:127.0.0.1`,
        `http://a.test:${redirectPort}/app/deno?x=1`,
      ]);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe("web");
      expect(fieldValues(answer, "strict-transport-security")).toEqual(["max-age=7200"]);
      expect(answer.out).toContain("HTTP/1.1 301 Moved Permanently");
      expect(upstream.seen.at(-1)!.url).toBe("/app/deno?x=1");
    } finally {
      await deno.stop();
    }
  });

  test("the start-up line names each listener http, https or https-redirect", async () => {
    const [redirectPort, httpsPort] = [await deadPort(), await deadPort()];
    const path = join(certs.dir, "startup.json");
    await writeFile(
      path,
      JSON.stringify({
        listen: [
          { address: `127.0.0.1:${redirectPort}`, redirect: "https" },
          { address: `127.0.0.1:${httpsPort}`, tls: { certificates: [{ cert: "a.pem", key: "a.key" }], hsts: true } },
        ],
        admin: false,
        routes: [{ redirect: { to: "/" } }],
      }),
    );
    const cli = spawnCommand([process.execPath, cliPath, "--config", path]);
    try {
      await cli.waitFor(/serving/);
      expect(cli.output()).toContain(`serving https-redirect 127.0.0.1:${redirectPort}, https 127.0.0.1:${httpsPort}`);
    } finally {
      cli.proc.kill();
      await cli.proc.exited;
    }
  });
});
