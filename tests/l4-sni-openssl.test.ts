// TLS passthrough by server name with the real tools: two `openssl s_server` processes with distinct
// certificates behind one SNI listener of the gateway, and `openssl s_client` asking for each name. The
// certificate a client sees proves which server it reached, and that the gateway never held a key.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startGateway } from "../gateway/gateway.ts";
import { deadPort } from "./helpers/common.ts";
import { run, selfSigned } from "./helpers/test-certificates.ts";

let dir: string;
const servers: Subprocess[] = [];
let gw: Awaited<ReturnType<typeof startGateway>>;
let listenPort: number;

async function sServer(name: string): Promise<number> {
  const { cert, key } = await selfSigned(dir, name);
  const port = await deadPort();
  const proc = Bun.spawn(["openssl", "s_server", "-accept", `127.0.0.1:${port}`, "-cert", cert, "-key", key, "-www", "-quiet"], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  servers.push(proc);
  // Ready once it accepts connections.
  for (let i = 0; i < 100; i++) {
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return port;
    } catch {
      await Bun.sleep(30);
    }
  }
  throw new Error(`openssl s_server for ${name} did not start`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-sni-"));
  const dbPort = await sServer("db.example.com");
  const wwwPort = await sServer("www.example.com");
  listenPort = await deadPort();
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: {
        db: { mode: "tcp", servers: [{ address: `127.0.0.1:${dbPort}` }] },
        www: { mode: "tcp", servers: [{ address: `127.0.0.1:${wwwPort}` }] },
      },
      tcp: [{ listen: `127.0.0.1:${listenPort}`, sni: { "db.example.com": "db", "*.example.com": "www" } }],
    },
  });
});

afterAll(async () => {
  await gw?.stop(0);
  for (const s of servers) s.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What `openssl s_client` reports about the certificate it got for `servername` through the gateway. */
async function subjectFor(servername: string | undefined, extra: string[] = []): Promise<string> {
  const args = ["openssl", "s_client", "-connect", `127.0.0.1:${listenPort}`, ...(servername ? ["-servername", servername] : ["-noservername"]), ...extra];
  const { out } = await run(args, "GET / HTTP/1.0\r\n\r\n");
  return out.match(/subject=.*CN\s*=\s*([^\s,/]+)/)?.[1] ?? `(no certificate) ${out.slice(0, 300)}`;
}

test("each name reaches the server with its own certificate", async () => {
  expect(await subjectFor("db.example.com")).toBe("db.example.com");
  expect(await subjectFor("www.example.com")).toBe("www.example.com");
  expect(await subjectFor("shop.example.com")).toBe("www.example.com"); // the wildcard
});

test("a ClientHello split into 512-byte records is still routed by its name", async () => {
  expect(await subjectFor("db.example.com", ["-max_send_frag", "512"])).toBe("db.example.com");
});

test("TLS 1.2 and 1.3 clients alike", async () => {
  expect(await subjectFor("db.example.com", ["-tls1_2"])).toBe("db.example.com");
  expect(await subjectFor("www.example.com", ["-tls1_3"])).toBe("www.example.com");
});

test("a name that matches nothing, or no name, gets no handshake (no `*` here)", async () => {
  expect(await subjectFor("other.org")).toStartWith("(no certificate)");
  expect(await subjectFor(undefined)).toStartWith("(no certificate)");
});
