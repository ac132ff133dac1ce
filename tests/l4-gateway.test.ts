// TCP and UDP listeners as a user configures them: in the gateway's config, next to HTTP routes, with
// their figures in /status and their problems reported by the config check.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { startGateway } from "../gateway/gateway.ts";
import { ConfigError } from "../gateway/config/errors.ts";
import { echoUpstream, exchange, type TcpUpstream } from "./helpers/l4.ts";
import { deadPort } from "./helpers/common.ts";

type Gateway = Awaited<ReturnType<typeof startGateway>>;

let echo: TcpUpstream;
let udpEcho: ReturnType<typeof createSocket>;
let udpEchoPort: number;
let gw: Gateway;
let tcpPort: number;
let udpPort: number;

beforeAll(async () => {
  echo = await echoUpstream();
  udpEcho = createSocket("udp4");
  udpEcho.on("message", (msg, rinfo) => udpEcho.send(Buffer.concat([Buffer.from("echo:"), msg]), rinfo.port, rinfo.address));
  await new Promise<void>((r) => udpEcho.bind(0, "127.0.0.1", () => r()));
  udpEchoPort = udpEcho.address().port;
  tcpPort = await deadPort();
  udpPort = await deadPort();
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      accessLog: false,
      pools: {
        echo: { mode: "tcp", servers: [{ address: `127.0.0.1:${echo.port}`, id: "echo-1" }] },
        dns: { mode: "tcp", servers: [{ address: `127.0.0.1:${udpEchoPort}`, id: "udp-1" }] },
      },
      tcp: [{ listen: `127.0.0.1:${tcpPort}`, pool: "echo" }],
      udp: [{ listen: `127.0.0.1:${udpPort}`, pool: "dns" }],
    },
  });
});
afterAll(async () => {
  await gw.stop(1_000);
  await echo.close();
  udpEcho.close();
});

describe("L4 listeners from the config", () => {
  test("a TCP listener proxies bytes, and /status shows the listener and the server's traffic", async () => {
    const payload = new TextEncoder().encode("x".repeat(100_000));
    const got = await exchange(tcpPort, payload);
    expect(got.bytes.length).toBe(payload.length);

    const status = (await (await fetch(`${gw.adminUrl}/status`)).json()) as {
      listeners: Array<{ kind: string; address: string }>;
      tcp: {
        listeners: Array<{ address: string; pool: string; accepted: number; bytesIn: number; bytesOut: number }>;
        servers: Record<string, Record<string, { bytesIn: number; bytesOut: number }>>;
      };
      udp: unknown[];
      pools: Record<string, { mode: string; servers: Array<{ id: string; requests: number; active: number }> }>;
    };
    expect(status.listeners.map((l) => l.kind).sort()).toEqual(["admin", "http", "tcp", "udp"]);
    const listener = status.tcp.listeners[0]!;
    expect(listener.pool).toBe("echo");
    expect(listener.accepted).toBeGreaterThanOrEqual(1);
    expect(listener.bytesIn).toBeGreaterThanOrEqual(payload.length);
    expect(listener.bytesOut).toBeGreaterThanOrEqual(payload.length);
    expect(status.tcp.servers.echo!["echo-1"]!.bytesIn).toBeGreaterThanOrEqual(payload.length);
    expect(status.pools.echo!.mode).toBe("tcp");
    expect(status.pools.echo!.servers[0]!.requests).toBeGreaterThanOrEqual(1);
    expect(status.pools.echo!.servers[0]!.active).toBe(0);
    expect(status.udp).toHaveLength(1);
  });

  test("a UDP listener answers from its own address", async () => {
    const client = createSocket("udp4");
    const reply = await new Promise<{ text: string; port: number }>((resolve) => {
      client.on("message", (msg, rinfo) => resolve({ text: msg.toString(), port: rinfo.port }));
      client.send("ping", udpPort, "127.0.0.1");
    });
    client.close();
    expect(reply).toEqual({ text: "echo:ping", port: udpPort });
  });
});

describe("L4 config problems", () => {
  async function problemsOf(config: object): Promise<string[]> {
    try {
      const g = await startGateway({ config: { listen: "127.0.0.1:0", admin: false, ...config } });
      await g.stop(0);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  }

  test("listeners must name tcp pools, and SNI patterns must be server names", async () => {
    const problems = await problemsOf({
      pools: { web: { servers: [{ url: "http://127.0.0.1:9" }] }, db: { mode: "tcp", servers: [{ address: "127.0.0.1:9" }] } },
      tcp: [
        { listen: "127.0.0.1:0", pool: "web" },
        { listen: "127.0.0.1:0", sni: { "a.*.com": "db", "db.example.com": "dbb" } },
      ],
      udp: [{ listen: "127.0.0.1:0", pool: "nope" }],
    });
    expect(problems).toEqual([
      expect.stringMatching(/^tcp\[0\]\.pool: "web" is an http pool/),
      expect.stringMatching(/^tcp\[1\]\.sni\["a\.\*\.com"\]: not a server name pattern/),
      expect.stringMatching(/^tcp\[1\]\.sni\["db\.example\.com"\]: no such pool \(got "dbb"\) — did you mean "db"\?/),
      expect.stringMatching(/^udp\[0\]\.pool: no such pool/),
    ]);
  });
});
