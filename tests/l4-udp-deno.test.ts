// UDP on Deno: the deno adapter and the UDP listener, run by node_modules/.bin/deno in a child process.
// Deno 2.x has Deno.listenDatagram only with --unstable-net; without it the adapter uses Deno's stable
// node:dgram. Both ways run the same script, with the permissions `deno task start` grants (no -A).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { repoRoot, spawnCommand } from "./helpers/process.ts";

const deno = resolve(repoRoot, "node_modules/.bin/deno");
const permissions = ["--allow-net", "--allow-read", "--allow-env", "--allow-sys"];

let dir: string;
let script: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-udp-deno-"));
  script = join(dir, "udp-on-deno.ts");
  await writeFile(script, denoScript());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run the script under Deno; it prints one JSON line of results and must then exit by itself. */
async function runOnDeno(flags: string[]): Promise<Record<string, unknown>> {
  if (!existsSync(deno)) throw new Error("deno is missing: run `npm ci` (the deno npm package is a devDependency)");
  const run = spawnCommand([deno, "run", ...flags, ...permissions, script]);
  const code = await Promise.race([run.proc.exited, Bun.sleep(30_000).then(() => "hung" as const)]);
  if (code === "hung") {
    run.proc.kill();
    throw new Error(`deno did not exit (something left open after stop()):\n${run.output()}`);
  }
  const line = run
    .output()
    .split("\n")
    .find((l) => l.startsWith("RESULT "));
  if (code !== 0 || !line) throw new Error(`deno exited ${code}:\n${run.output()}`);
  return JSON.parse(line.slice("RESULT ".length));
}

const expected = {
  adapterEcho: "echo:ping",
  adapterReplyFrom: "server",
  bigReply: 65507,
  listenerReplies: ["a:q0", "b:q1", "a:q0-again", "b:q1-again"],
  replyFromListener: true,
  activeWhileOpen: [1, 1],
  activeAfterIdle: [0, 0],
  expired: 2,
  newSessionAfterIdle: "a:after",
  activeAfterStop: [0, 0],
  sendErrorReported: true,
};

describe("UDP on Deno", () => {
  test("with --unstable-net: Deno.listenDatagram", async () => {
    const result = await runOnDeno(["--unstable-net"]);
    expect(result).toEqual({ backend: "Deno.listenDatagram", ...expected });
  }, 40_000);

  test("without flags (deno task start as it is): node:dgram", async () => {
    const result = await runOnDeno([]);
    expect(result).toEqual({ backend: "node:dgram", ...expected });
  }, 40_000);
});

function denoScript(): string {
  const from = (path: string) => JSON.stringify(join(repoRoot, path));
  return `
import { bindUdp } from ${from("gateway/runtime/deno-udp.ts")};
import { startUdpListeners } from ${from("gateway/l4/udp-listener.ts")};
import { Pool } from ${from("gateway/pool/pool.ts")};

const text = (d) => new TextDecoder().decode(d);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const result = { backend: typeof Deno.listenDatagram === "function" ? "Deno.listenDatagram" : "node:dgram" };

/** A socket through the adapter that keeps what it receives. */
async function peer(onData) {
  const got = [];
  const waiters = [];
  const socket = await bindUdp({
    hostname: "127.0.0.1",
    port: 0,
    receive(d) {
      got.push(d);
      onData?.(d, socket);
      waiters.shift()?.(d);
    },
  });
  let read = 0;
  return {
    socket,
    got,
    next(ms = 3000) {
      if (read < got.length) return Promise.resolve(got[read++]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no datagram within " + ms + "ms")), ms);
        waiters.push((d) => { read++; clearTimeout(timer); resolve(d); });
      });
    },
  };
}
const echo = (name, raw = false) => peer((d, s) => s.send(raw ? d.data : new TextEncoder().encode(name + ":" + text(d.data)), d.address, d.port));

// ── the adapter alone ──
const server = await echo("echo");
const client = await peer();
client.socket.send(new TextEncoder().encode("ping"), "127.0.0.1", server.socket.port);
const reply = await client.next();
result.adapterEcho = text(reply.data);
result.adapterReplyFrom = reply.port === server.socket.port && reply.address === "127.0.0.1" ? "server" : reply.address + ":" + reply.port;
const raw = await echo("raw", true);
client.socket.send(new Uint8Array(65507).fill(7), "127.0.0.1", raw.socket.port);
result.bigReply = (await client.next()).data.byteLength;
let reported;
const erring = await bindUdp({ hostname: "127.0.0.1", port: 0, receive() {}, error: (e) => (reported = e) });
erring.send(new Uint8Array(1), "::1", 9); // an IPv6 destination from an IPv4 socket
await sleep(100);
result.sendErrorReported = reported instanceof Error;
erring.close();

// ── the listener ──
const a = await echo("a");
const b = await echo("b");
const tcpServer = (port) => ({ address: "127.0.0.1:" + port, weight: 1, maxFails: 1, failTimeout: 10000, backup: false, down: false, maxConns: 0, slowStart: 0 });
const pool = new Pool("dns", { mode: "tcp", balance: "round-robin", hash: "ip", servers: [tcpServer(a.socket.port), tcpServer(b.socket.port)], queue: { max: 100, timeout: 5000 } });
const udp = await startUdpListeners([{ listen: "127.0.0.1:0", pool: "dns", idleTimeout: 300 }], { runtime: { bindUdp }, pools: () => new Map([["dns", pool]]), log: (l) => console.error(l) });
const port = Number(udp.listeners[0].address.split(":").at(-1));
const c0 = await peer();
const c1 = await peer();
const replies = [];
let fromListener = true;
for (const [c, msg] of [[c0, "q0"], [c1, "q1"], [c0, "q0-again"], [c1, "q1-again"]]) {
  c.socket.send(new TextEncoder().encode(msg), "127.0.0.1", port);
  const r = await c.next();
  replies.push(text(r.data));
  fromListener &&= r.port === port;
}
result.listenerReplies = replies;
result.replyFromListener = fromListener;
result.activeWhileOpen = pool.servers.map((s) => s.active);
await sleep(700);
result.activeAfterIdle = pool.servers.map((s) => s.active);
result.expired = udp.stats()[0].expired;
c0.socket.send(new TextEncoder().encode("after"), "127.0.0.1", port);
result.newSessionAfterIdle = text((await c0.next()).data);
await udp.stop();
result.activeAfterStop = pool.servers.map((s) => s.active);
for (const p of [server, client, raw, a, b, c0, c1]) p.socket.close();
console.log("RESULT " + JSON.stringify(result));
`;
}
