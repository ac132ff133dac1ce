// parseProxyHeader against headers a real HAProxy sends: HAProxy (mode tcp) forwards test clients to
// node:net servers with `send-proxy` / `send-proxy-v2` (also with TLVs), and its health checks send the
// v1 UNKNOWN / v2 LOCAL forms (`check-send-proxy`). Needs the haproxy binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeProxyHeader, parseProxyHeader } from "../gateway/l4/proxy-protocol.ts";
import { deadPort, valueOf } from "./helpers/common.ts";

const INSTALL = "haproxy is not installed; install it with: apt-get install -y haproxy";
const haveHaproxy = spawnSync("haproxy", ["-v"]).status === 0;

/** A node:net server keeping every connection's bytes. */
interface Recorder {
  port: number;
  connections: Buffer[];
  server: Server;
  sockets: Set<Socket>;
}

async function recorder(): Promise<Recorder> {
  const rec: Recorder = { port: 0, connections: [], server: createServer(), sockets: new Set() };
  rec.server.on("connection", (socket) => {
    const index = rec.connections.push(Buffer.alloc(0)) - 1;
    rec.sockets.add(socket);
    socket.on("data", (chunk: Buffer) => (rec.connections[index] = Buffer.concat([rec.connections[index]!, chunk])));
    socket.on("error", () => {});
    socket.on("close", () => rec.sockets.delete(socket));
  });
  await new Promise<void>((resolve) => rec.server.listen(0, "127.0.0.1", resolve));
  rec.port = (rec.server.address() as { port: number }).port;
  return rec;
}

function dial(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => resolve(socket));
    socket.once("error", reject);
  });
}

const CLIENT_DATA = "hello sluice\n";

let haproxy: ChildProcess | undefined;
let haproxyLog = "";
let dir = "";
const recorders: Record<string, Recorder> = {};
const frontends: Record<string, { host: string; port: number }> = {};

beforeAll(async () => {
  if (!haveHaproxy) return;
  for (const name of ["v1", "v2", "v1six", "v2six", "tlv", "checkV1", "checkV2"]) recorders[name] = await recorder();
  frontends.v1 = { host: "127.0.0.1", port: await deadPort("127.0.0.1") };
  frontends.v2 = { host: "127.0.0.1", port: await deadPort("127.0.0.1") };
  frontends.v1six = { host: "::1", port: await deadPort("::1") };
  frontends.v2six = { host: "::1", port: await deadPort("::1") };
  frontends.tlv = { host: "127.0.0.1", port: await deadPort("127.0.0.1") };
  const bind = (name: string) => {
    const f = frontends[name]!;
    return f.host.includes(":") ? `[${f.host}]:${f.port}` : `${f.host}:${f.port}`;
  };
  const up = (name: string) => `127.0.0.1:${recorders[name]!.port}`;
  const config = `
global
  log stderr format raw local0 err
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend f_v1
  bind ${bind("v1")}
  default_backend b_v1
frontend f_v2
  bind ${bind("v2")}
  default_backend b_v2
frontend f_v1six
  bind ${bind("v1six")}
  default_backend b_v1six
frontend f_v2six
  bind ${bind("v2six")}
  default_backend b_v2six
frontend f_tlv
  bind ${bind("tlv")}
  unique-id-format sluice-%ci-%cp
  default_backend b_tlv
backend b_v1
  server s ${up("v1")} send-proxy
backend b_v2
  server s ${up("v2")} send-proxy-v2
backend b_v1six
  server s ${up("v1six")} send-proxy
backend b_v2six
  server s ${up("v2six")} send-proxy-v2
backend b_tlv
  server s ${up("tlv")} send-proxy-v2 proxy-v2-options crc32c,unique-id
backend b_check_v1
  server s ${up("checkV1")} send-proxy check check-send-proxy inter 200ms
backend b_check_v2
  server s ${up("checkV2")} send-proxy-v2 check check-send-proxy inter 200ms
`;
  dir = mkdtempSync(join(tmpdir(), "sluice-haproxy-"));
  writeFileSync(join(dir, "haproxy.cfg"), config);
  haproxy = spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "pipe", "pipe"] });
  haproxy.stdout!.on("data", (d) => (haproxyLog += d));
  haproxy.stderr!.on("data", (d) => (haproxyLog += d));
  // Ready when every frontend accepts connections.
  for (const f of Object.values(frontends)) {
    const deadline = Date.now() + 5000;
    for (;;) {
      if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${haproxyLog}`);
      try {
        (await dial(f.host, f.port)).destroy();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`haproxy did not listen on ${f.host}:${f.port}: ${haproxyLog}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
  // Those readiness probes reached the upstreams too (with no client data): forget them.
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const r of Object.values(recorders)) r.connections.length = 0;
});

afterAll(async () => {
  if (haproxy && haproxy.exitCode === null) {
    const exited = new Promise((resolve) => haproxy!.once("exit", resolve));
    haproxy.kill("SIGTERM");
    await exited;
  }
  for (const r of Object.values(recorders)) {
    for (const s of r.sockets) s.destroy();
    await new Promise<void>((resolve) => r.server.close(() => resolve()));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Sends CLIENT_DATA through a frontend and returns the bytes its upstream received, plus the client socket. */
async function through(name: string): Promise<{ received: Buffer; client: Socket }> {
  if (!haveHaproxy) throw new Error(INSTALL);
  const f = frontends[name]!;
  const rec = recorders[name]!;
  const client = await dial(f.host, f.port);
  client.write(CLIENT_DATA);
  const received = await valueOf(
    () => rec.connections.find((c) => c.toString("latin1").endsWith(CLIENT_DATA) && c.length > CLIENT_DATA.length),
    `data through ${name}`,
  );
  rec.connections.splice(rec.connections.indexOf(received), 1);
  return { received, client };
}

function expectIncompleteBefore(header: Uint8Array, consumed: number) {
  for (let length = 0; length < consumed; length++) {
    const verdict = parseProxyHeader(header.subarray(0, length));
    if (verdict.kind !== "incomplete") throw new Error(`prefix ${length} of a real header gave ${JSON.stringify(verdict)}`);
  }
}

describe("headers from HAProxy", () => {
  test("haproxy is installed", () => {
    if (!haveHaproxy) throw new Error(INSTALL);
  });

  for (const [name, host, version] of [
    ["v1", "127.0.0.1", "v1"],
    ["v2", "127.0.0.1", "v2"],
    ["v1six", "::1", "v1"],
    ["v2six", "::1", "v2"],
  ] as const) {
    test(`send-proxy${version === "v2" ? "-v2" : ""} from ${host}: the client's address and port, then its bytes`, async () => {
      const { received, client } = await through(name);
      const header = new Uint8Array(received);
      const parsed = parseProxyHeader(header);
      const source = { address: host, port: client.localPort! };
      const destination = { address: host, port: frontends[name]!.port };
      client.destroy();
      expect(parsed).toEqual({ kind: "ok", consumed: received.length - CLIENT_DATA.length, source, destination });
      if (version === "v1") expect(received.toString("latin1", 0, 11)).toBe(host.includes(":") ? "PROXY TCP6 " : "PROXY TCP4 ");
      else expect(received[13]).toBe(host.includes(":") ? 0x21 : 0x11);
      expectIncompleteBefore(header, received.length - CLIENT_DATA.length);
      // Our encoder writes the very bytes HAProxy wrote (v2 without TLVs, v1 always).
      expect(encodeProxyHeader(version, { source, destination })).toEqual(header.subarray(0, received.length - CLIENT_DATA.length));
    });
  }

  test("send-proxy-v2 with TLVs (crc32c, unique-id): skipped, consumed = 16 + length", async () => {
    const { received, client } = await through("tlv");
    const clientPort = client.localPort!;
    client.destroy();
    const parsed = parseProxyHeader(new Uint8Array(received));
    const length = received.readUInt16BE(14);
    expect(length).toBeGreaterThan(12);
    expect(parsed).toEqual({
      kind: "ok",
      consumed: 16 + length,
      source: { address: "127.0.0.1", port: clientPort },
      destination: { address: "127.0.0.1", port: frontends.tlv!.port },
    });
    expect(16 + length).toBe(received.length - CLIENT_DATA.length);
    // The TLV area really holds the unique id HAProxy computed (PP2_TYPE_UNIQUE_ID = 0x05).
    const tlvs = received.subarray(28, 16 + length);
    const types: number[] = [];
    for (let at = 0; at < tlvs.length; at += 3 + tlvs.readUInt16BE(at + 1)) types.push(tlvs[at]!);
    expect(types).toContain(0x03);
    expect(types).toContain(0x05);
    expect(tlvs.toString("latin1")).toContain(`sluice-127.0.0.1-${clientPort}`);
    expectIncompleteBefore(new Uint8Array(received), 16 + length);
  });

  // HAProxy 2.6 writes a v1 check's own connection addresses, and a v2 check as LOCAL.
  test("health checks with check-send-proxy: v1 with the check's own addresses, v2 LOCAL without", async () => {
    if (!haveHaproxy) throw new Error(INSTALL);
    const v1 = await valueOf(() => recorders.checkV1!.connections.find((c) => c.length > 0), "a v1 health check");
    const v2 = await valueOf(() => recorders.checkV2!.connections.find((c) => c.length > 0), "a v2 health check");
    expect(parseProxyHeader(new Uint8Array(v1))).toMatchObject({
      kind: "ok",
      consumed: v1.length,
      destination: { address: "127.0.0.1", port: recorders.checkV1!.port },
    });
    expect(v2[12]).toBe(0x20); // version 2, LOCAL
    expect(parseProxyHeader(new Uint8Array(v2))).toEqual({ kind: "ok", consumed: v2.length });
    expectIncompleteBefore(new Uint8Array(v1), v1.length);
    expectIncompleteBefore(new Uint8Array(v2), v2.length);
  });
});
