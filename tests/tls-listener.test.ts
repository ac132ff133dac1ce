// TLS termination on an HTTP listener, with the real tools: certificates made here by openssl (a CA, a leaf for
// a.test, a leaf for *.b.test), curl trusting that CA, and `openssl s_client` for what curl does not show (the
// certificate served without SNI, ALPN, the TLS versions refused). The upstream is plain HTTP and must learn
// from X-Forwarded-Proto that the client came over TLS. Bad certificate files are config errors at start and
// refuse a reload; a good reload serves the new certificates without closing open connections.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { ConfigError } from "../gateway/config/errors.ts";
import { loadListenerCertificates } from "../gateway/config/certificates.ts";
import { checkConfig } from "../gateway/config/check.ts";
import { makeCertificates, run, type TestCertificates } from "./helpers/test-certificates.ts";
import { gateway, portOf, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";
import { startEngineGateway } from "./helpers/engine-gateway.ts";
import { deadPort, eventually, processAlive, until, valueOf } from "./helpers/common.ts";
import { cliPath, spawnCommand } from "./helpers/process.ts";
import { connect as netConnect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { holdConnection } from "./helpers/held-connection.ts";

let certs: TestCertificates;
let dir: string;
let upstream: Upstream;
const files = (name: string) => certs.files(name);
const leaf = (name: string, san: string) => certs.leaf(name, san);

/** What `openssl s_client` reports of a handshake with the gateway. */
async function handshake(args: string[], to: number): Promise<{ subject: string; alpn: string; protocol: string; out: string }> {
  const { out } = await run(["openssl", "s_client", "-connect", `127.0.0.1:${to}`, "-alpn", "http/1.1", ...args], "");
  return {
    subject: /^subject=.*CN ?= ?([^\s,/]+)/m.exec(out)?.[1] ?? "",
    alpn: /ALPN protocol: (\S+)/.exec(out)?.[1] ?? "",
    protocol: /New, (TLSv[\d.]+)/.exec(out)?.[1] ?? "",
    out,
  };
}

async function curl(host: string, path: string, to: number): Promise<{ code: number; body: string }> {
  const { code, out } = await run([
    "curl",
    "-sS",
    "--max-time",
    "5",
    "--cacert",
    join(dir, "ca.pem"),
    "--resolve",
    `${host}:${to}:127.0.0.1`,
    `https://${host}:${to}${path}`,
  ]);
  return { code, body: out };
}

beforeAll(async () => {
  certs = await makeCertificates("sluice-tls-");
  dir = certs.dir;
  await leaf("a", "DNS:a.test");
  await leaf("b", "DNS:*.b.test");
  // Echoes a POST's body back: the answer is as big as the upload.
  upstream = startUpstream("web", async (request, seen) => {
    if (request.method !== "POST") return undefined;
    seen.body = await request.text();
    return new Response(seen.body);
  });
});

afterAll(async () => {
  await upstream?.stop();
  await certs?.remove();
});

/**
 * Connects over plain TCP, sends `bytes` (the start of a handshake, or nothing) and waits: true once the
 * gateway closed the connection, false if it is still open after 5 s.
 */
async function closedByServer(port: number, bytes: number[]): Promise<boolean> {
  const socket = netConnect({ host: "127.0.0.1", port });
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  socket.on("connect", () => socket.write(new Uint8Array(bytes)));
  const cut = await eventually(() => closed, 5_000, 50);
  socket.destroy();
  return cut;
}

/** A gateway whose only listener is HTTPS with the certificates `names` (files made in beforeAll). */
function httpsGateway(names: string[]): { port: () => number } {
  let gw: Gateway | undefined;
  beforeAll(async () => {
    gw = await gateway({
      listen: [{ address: "127.0.0.1:0", tls: { certificates: names.map(files) } }],
      limits: { headerTimeout: "1s" },
      pools: { web: [upstream.url] },
      routes: [{ match: { path: "/*" }, pool: "web" }],
    });
  });
  afterAll(() => gw?.stop(0));
  return { port: () => portOf(gw!) };
}

// One certificate and two (chosen by SNI) are held to the same tests.
for (const names of [["a"], ["a", "b"]]) {
  describe(`an HTTPS listener with ${names.length === 1 ? "one certificate" : "two certificates"}`, () => {
    const gw = httpsGateway(names);
    test("curl reaches the upstream over TLS, and the upstream is told the request came over https", async () => {
      const answer = await curl("a.test", "/hello", gw.port());
      expect(answer).toEqual({ code: 0, body: "web" });
      const seen = upstream.seen.at(-1)!;
      expect(seen.url).toBe("/hello");
      expect(seen.headers.get("x-forwarded-proto")).toBe("https");
      expect(seen.headers.get("x-forwarded-for")).toBe("127.0.0.1");
    });

    test("several requests on one TLS connection (keep-alive inside TLS)", async () => {
      const before = upstream.seen.length;
      const { code, out } = await run([
        "curl",
        "-sS",
        "--max-time",
        "5",
        "--cacert",
        join(dir, "ca.pem"),
        "--resolve",
        `a.test:${gw.port()}:127.0.0.1`,
        `https://a.test:${gw.port()}/one`,
        `https://a.test:${gw.port()}/two`,
        "-w",
        "%{num_connects}\n",
      ]);
      expect(code).toBe(0);
      // The second transfer reused the first one's connection: no new connect.
      expect(out).toBe("web1\nweb0\n");
      expect(upstream.seen.slice(before).map((s) => s.url)).toEqual(["/one", "/two"]);
    });

    test("openssl s_client with SNI a.test gets the certificate and ALPN http/1.1", async () => {
      const result = await handshake(["-servername", "a.test", "-CAfile", join(dir, "ca.pem"), "-verify_hostname", "a.test"], gw.port());
      expect(result.subject).toBe("a");
      expect(result.alpn).toBe("http/1.1");
      expect(result.out).toContain("Verify return code: 0 (ok)");
    });

    test("a client without SNI, or naming another server, gets the default (first) certificate", async () => {
      expect((await handshake(["-noservername"], gw.port())).subject).toBe("a");
      const wrong = await handshake(["-servername", "wrong.test", "-CAfile", join(dir, "ca.pem"), "-verify_hostname", "wrong.test"], gw.port());
      expect(wrong.subject).toBe("a");
      // The client can tell: the certificate does not name wrong.test.
      expect(wrong.out).toMatch(/Verify return code: 62 \(hostname mismatch\)/);
    });

    test("TLS 1.2 and 1.3 are spoken; TLS 1.1 and 1.0 are refused with a protocol-version alert", async () => {
      expect((await handshake(["-servername", "a.test", "-tls1_2"], gw.port())).protocol).toBe("TLSv1.2");
      expect((await handshake(["-servername", "a.test", "-tls1_3"], gw.port())).protocol).toBe("TLSv1.3");
      for (const old of ["-tls1_1", "-tls1"]) {
        const refused = await handshake(["-servername", "a.test", old], gw.port());
        expect(refused.subject).toBe("");
        expect(refused.out).toMatch(/alert protocol version|no protocols available|unsupported protocol/);
      }
    });

    test("a 3 MB upload and a 3 MB answer pass whole through TLS", async () => {
      const upload = join(dir, "upload.bin");
      await Bun.write(upload, "u".repeat(3 * 1024 * 1024));
      const { code, out } = await run([
        "curl",
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        join(dir, "ca.pem"),
        "--resolve",
        `a.test:${gw.port()}:127.0.0.1`,
        "--data-binary",
        `@${upload}`,
        `https://a.test:${gw.port()}/big`,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
      ]);
      expect({ code, out }).toEqual({ code: 0, out: `200 ${3 * 1024 * 1024}` });
      expect(upstream.seen.at(-1)!.body.length).toBe(3 * 1024 * 1024);
    });

    test("a client that never finishes its handshake is cut after limits.headerTimeout", async () => {
      expect(await closedByServer(gw.port(), [0x16, 0x03, 0x01])).toBe(true);
      expect(await closedByServer(gw.port(), [])).toBe(true);
    });

    test("plain HTTP sent to the TLS port never reaches the upstream", async () => {
      const before = upstream.seen.length;
      const { code } = await run(["curl", "-sS", "--max-time", "5", `http://127.0.0.1:${gw.port()}/plain`]);
      expect(code).not.toBe(0);
      expect(upstream.seen.length).toBe(before);
    });

    if (names.length > 1) {
      test("SNI chooses the certificate: an exact name, a name under a wildcard", async () => {
        const exact = await handshake(["-servername", "a.test", "-CAfile", join(dir, "ca.pem"), "-verify_hostname", "a.test"], gw.port());
        expect(exact.subject).toBe("a");
        const wildcard = await handshake(["-servername", "x.b.test", "-CAfile", join(dir, "ca.pem"), "-verify_hostname", "x.b.test"], gw.port());
        expect(wildcard.subject).toBe("b");
        expect(wildcard.alpn).toBe("http/1.1");
        expect(wildcard.out).toContain("Verify return code: 0 (ok)");
        // The wildcard certificate does not cover b.test itself: that name gets the default.
        expect((await handshake(["-servername", "b.test"], gw.port())).subject).toBe("a");
        expect(await curl("x.b.test", "/wild", gw.port())).toEqual({ code: 0, body: "web" });
        expect(upstream.seen.at(-1)!.headers.get("x-forwarded-proto")).toBe("https");
      });
    }
  });
}

test("a route whose plugin needs Request objects (run through hono) also tells the upstream https, and the plugin sees an https URL", async () => {
  const plugin = join(dir, "url-echo.ts");
  await Bun.write(
    plugin,
    `export default { name: "url-echo", setup: () => ({ middleware: async (c, next) => { await next(); c.res.headers.set("x-seen-url", c.req.url); } }) };\n`,
  );
  const gw = await gateway({
    listen: [{ address: "127.0.0.1:0", tls: { certificates: [files("a"), files("b")] } }],
    pools: { web: [upstream.url] },
    routes: [{ match: { path: "/*" }, pool: "web", plugins: [{ use: plugin }] }],
  });
  try {
    const port = portOf(gw);
    const { code, out } = await run([
      "curl",
      "-sS",
      "-i",
      "--max-time",
      "5",
      "--cacert",
      join(dir, "ca.pem"),
      "--resolve",
      `x.b.test:${port}:127.0.0.1`,
      `https://x.b.test:${port}/via-hono`,
    ]);
    expect(code).toBe(0);
    expect(out).toContain(`x-seen-url: https://x.b.test:${port}/via-hono`);
    const seen = upstream.seen.at(-1)!;
    expect(seen.url).toBe("/via-hono");
    expect(seen.headers.get("x-forwarded-proto")).toBe("https");
  } finally {
    await gw.stop(0);
  }
});

/** A TLS connection kept open across requests: `ask` sends a GET and resolves with the whole answer. */
async function keptConnection(port: number): Promise<{ ask(path: string): Promise<string>; close(): void }> {
  const socket = tlsConnect({ host: "127.0.0.1", port, servername: "a.test", ca: await Bun.file(join(dir, "ca.pem")).text() });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  let received = "";
  let waiting: (() => void) | undefined;
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
    waiting?.();
  });
  return {
    async ask(path) {
      received = "";
      socket.write(`GET ${path} HTTP/1.1\r\nhost: a.test\r\n\r\n`);
      // The upstream's answer is its name, "web", with a content-length: the answer is whole once it ends so.
      await valueOf(() => (received.endsWith("\r\n\r\nweb") ? true : undefined), "the answer on the kept connection");
      return received;
    },
    close: () => socket.destroy(),
  };
}

test("a reload serves renewed certificates to new handshakes, keeps open connections, and refuses a bad key", async () => {
  const served = { cert: join(dir, "served.pem"), key: join(dir, "served.key") };
  await Bun.write(served.cert, Bun.file(files("a").cert));
  await Bun.write(served.key, Bun.file(files("a").key));
  const gw = await gateway({
    listen: [{ address: "127.0.0.1:0", tls: { certificates: [served, files("b")] } }],
    pools: { web: [upstream.url] },
    routes: [{ match: { path: "/*" }, pool: "web" }],
  });
  const port = portOf(gw);
  const kept = await keptConnection(port);
  try {
    expect(await kept.ask("/before")).toStartWith("HTTP/1.1 200");
    await leaf("renewed", "DNS:a.test");
    await Bun.write(served.cert, Bun.file(files("renewed").cert));
    await Bun.write(served.key, Bun.file(files("renewed").key));
    await gw.reload();
    const renewed = await handshake(["-servername", "a.test", "-CAfile", join(dir, "ca.pem"), "-verify_hostname", "a.test"], port);
    expect(renewed.subject).toBe("renewed");
    expect(renewed.out).toContain("Verify return code: 0 (ok)");
    expect((await handshake(["-noservername"], port)).subject).toBe("renewed");
    expect((await handshake(["-servername", "x.b.test"], port)).subject).toBe("b");
    // The connection made before the reload goes on.
    expect(await kept.ask("/after")).toStartWith("HTTP/1.1 200");
    expect(upstream.seen.at(-1)!.url).toBe("/after");

    // A key that is not the certificate's: the reload is refused, the renewed certificate stays.
    await Bun.write(served.key, Bun.file(files("b").key));
    let refused: unknown;
    await gw.reload().catch((error) => (refused = error));
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems[0]).toStartWith("listen[0].tls.certificates[0].key: this key does not belong to the certificate");
    expect((await handshake(["-servername", "a.test"], port)).subject).toBe("renewed");
  } finally {
    kept.close();
    await gw.stop(0);
  }
});

test("at the file-descriptor limit (ulimit -n 128, 200 clients that stay) a Bun TLS listener pauses instead of spinning, and serves again once they leave", async () => {
  const port = await deadPort();
  const configPath = join(dir, "fd-limit.json");
  await Bun.write(
    configPath,
    JSON.stringify({
      listen: [{ address: `127.0.0.1:${port}`, tls: { certificates: [files("a")] } }],
      admin: false,
      accessLog: false,
      pools: { web: { servers: [{ url: upstream.url }] } },
      routes: [{ match: { path: "/*" }, pool: "web" }],
    }),
  );
  const gateway = spawnCommand(["bash", "-c", 'ulimit -n 128 && exec "$@"', "bash", process.execPath, cliPath, "--config", configPath]);
  const sockets: Socket[] = [];
  try {
    await gateway.waitFor(/serving/, 30_000);
    for (let i = 0; i < 200; i++) sockets.push(netConnect({ host: "127.0.0.1", port }).on("error", () => {}));
    await gateway.waitFor(/file descriptors in use: not accepting connections/, 5_000);
    const cpuBefore = cpuSeconds(gateway.proc.pid);
    // A second of saturation, with clients still trying to connect all along.
    const started = Date.now();
    while (Date.now() - started < 1_000) await holdConnection(port, sockets);
    expect(cpuSeconds(gateway.proc.pid) - cpuBefore).toBeLessThan(0.5);
    expect(processAlive(gateway.proc.pid)).toBe(true);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  await gateway.waitFor(/file descriptors available again/, 10_000);
  await until(async () => (await curl("a.test", "/after-limit", port)).body === "web", "the gateway serves again", 10_000, 100);
  await gateway.stop("SIGKILL");
}, 30_000);

/** CPU seconds (user + system) the process has used, from /proc/PID/stat (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe("bad certificates are config errors naming the key", () => {
  async function problemsOf(certificates: Array<{ cert: string; key: string }>): Promise<string[]> {
    try {
      const started = await startGateway({
        config: {
          listen: [{ address: "127.0.0.1:0", tls: { certificates } }],
          admin: false,
          accessLog: false,
          pools: { web: { servers: [{ url: upstream.url }] } },
          routes: [{ match: { path: "/*" }, pool: "web" }],
        },
      });
      await started.stop(0);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems;
    }
    throw new Error("the gateway started");
  }

  test("a missing certificate file", async () => {
    const missing = join(dir, "missing.pem");
    expect(await problemsOf([{ cert: missing, key: files("a").key }])).toEqual([
      `listen[0].tls.certificates[0].cert: cannot read the file (no such file) (got ${JSON.stringify(missing)})`,
    ]);
  });

  test("a key that is not the certificate's", async () => {
    const [line] = await problemsOf([{ cert: files("a").cert, key: files("b").key }]);
    expect(line).toStartWith("listen[0].tls.certificates[0].key: this key does not belong to the certificate");
  });

  test("a certificate that has expired (checked as of three days from now: the test certificates last two)", () => {
    const config = { listen: [{ address: "127.0.0.1:0", tls: { certificates: [files("a")] } }] };
    expect(() => loadListenerCertificates(config, dir, new Date(Date.now() + 3 * 86_400_000))).toThrow(
      /^listen\[0\]\.tls\.certificates\[0\]\.cert: the certificate expired on \d{4}-/,
    );
    expect(loadListenerCertificates(config, dir)[0]![0]!.names).toEqual(["a.test"]);
  });

  test("`sluice check` reports them too, with paths relative to the config file", async () => {
    const path = join(dir, "sluice.json");
    await Bun.write(
      path,
      JSON.stringify({
        listen: [{ address: "127.0.0.1:8443", tls: { certificates: [{ cert: "nope.pem", key: "a.key" }] } }],
        pools: { web: { servers: [{ url: "http://127.0.0.1:9" }] } },
        routes: [{ match: { path: "/*" }, pool: "web" }],
      }),
    );
    expect(await checkConfig(path, ["round-robin"])).toEqual({
      ok: false,
      lines: ['listen[0].tls.certificates[0].cert: cannot read the file (no such file) (got "nope.pem")'],
    });
    await Bun.write(
      path,
      JSON.stringify({
        listen: [
          {
            address: "127.0.0.1:8443",
            tls: {
              certificates: [
                { cert: "a.pem", key: "a.key" },
                { cert: "b.pem", key: "b.key" },
              ],
            },
          },
        ],
        pools: { web: { servers: [{ url: "http://127.0.0.1:9" }] } },
        routes: [{ match: { path: "/*" }, pool: "web" }],
      }),
    );
    expect(await checkConfig(path, ["round-robin"])).toEqual({ ok: true, lines: ["ok"] });
  });

  test("a file that is not a certificate", async () => {
    const [line] = await problemsOf([{ cert: files("a").key, key: files("a").key }]);
    expect(line).toStartWith("listen[0].tls.certificates[0].cert: not a PEM certificate");
  });
});

test("on Deno, an HTTPS listener serves the certificate and tells the upstream https", async () => {
  const deno = await startEngineGateway("deno", {
    listen: [{ address: "127.0.0.1:0", tls: { certificates: [files("b")] } }],
    limits: { headerTimeout: "1s" },
    pools: { web: { servers: [{ url: upstream.url }] } },
    routes: [{ match: { path: "/*" }, pool: "web" }],
  });
  try {
    expect(await curl("x.b.test", "/from-deno", deno.port)).toEqual({ code: 0, body: "web" });
    expect(upstream.seen.at(-1)!.headers.get("x-forwarded-proto")).toBe("https");
    const result = await handshake(["-servername", "x.b.test", "-tls1_1"], deno.port);
    expect(result.subject).toBe("");
    expect((await handshake(["-servername", "x.b.test"], deno.port)).alpn).toBe("http/1.1");
  } finally {
    await deno.stop();
  }
}, 20_000);
