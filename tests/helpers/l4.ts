// Helpers for the L4 (TCP passthrough) tests: node:net upstreams that echo, answer after the client's FIN,
// or say who they are; a raw client that sends, half-closes and collects; and a TCP listener built straight
// from a parsed config (the gateway's config still refuses `tcp` until it is wired in).
import { bindRawSocket } from "./raw-socket.ts";
import { connect, createServer, type Server, type Socket } from "node:net";
import { createHash } from "node:crypto";
import { configSchema, type ConfigInput } from "../../gateway/config/schema.ts";
import { Pool } from "../../gateway/pool/pool.ts";
import { getRuntime } from "../../gateway/runtime/current.ts";
import { startTcpListeners, type TcpListenerDeps, type TcpListeners } from "../../gateway/l4/tcp-listeners.ts";
import { closeServer, listen } from "./upstream.ts";

export interface TcpUpstream {
  readonly port: number;
  readonly address: string;
  /** Connections accepted so far. */
  accepted: number;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** A node:net server (half-open allowed) running `onConnection` for each client. */
export async function tcpUpstream(onConnection: (socket: Socket) => void): Promise<TcpUpstream> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    state.accepted++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onConnection(socket);
  });
  const port = await listen(server, 1024);
  const state: TcpUpstream = {
    port,
    address: `127.0.0.1:${port}`,
    accepted: 0,
    sockets,
    close: () => closeServer(server, sockets),
  };
  return state;
}

/** Echoes every byte back (node's pipe: with backpressure) and ends after the client's FIN. */
export function echoUpstream(): Promise<TcpUpstream> {
  return tcpUpstream((socket) => socket.pipe(socket));
}

/** Says its name on connect, then echoes. */
export function namedUpstream(name: string): Promise<TcpUpstream> {
  return tcpUpstream((socket) => {
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
}

export interface Received {
  bytes: Buffer;
  sha256: string;
  /** How the connection ended: "end" (FIN after everything), "error: CODE", or "timeout". */
  ending: string;
  ms: number;
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Connect to 127.0.0.1:port, send `data` (in `pieces` with `gapMs` between them, when given), half-close
 * (unless `halfClose: false`), and collect everything until the server's FIN / close, or `timeoutMs`.
 */
export function exchange(
  port: number,
  data: Uint8Array | string | Array<Uint8Array | string>,
  options: { halfClose?: boolean; timeoutMs?: number; gapMs?: number; localAddress?: string } = {},
): Promise<Received> {
  const { halfClose = true, timeoutMs = 10_000, gapMs = 0 } = options;
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ending = "";
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true, localAddress: options.localAddress });
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    function finish(how: string) {
      if (!ending) ending = how;
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      resolve({ bytes, sha256: sha256(bytes), ending, ms: performance.now() - started });
    }
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => finish("end"));
    socket.on("error", (error: NodeJS.ErrnoException) => finish(`error: ${error.code ?? error.message}`));
    socket.on("close", () => finish("close"));
    socket.on("connect", async () => {
      const parts = Array.isArray(data) ? data : [data];
      for (const part of parts) {
        socket.write(part);
        if (gapMs) await Bun.sleep(gapMs);
      }
      if (halfClose) socket.end();
    });
  });
}

/** An open client connection the test drives step by step. */
export interface Client {
  socket: Socket;
  /** Everything received so far. */
  received(): Buffer;
  /** Resolves with how the connection ended ("end", "close", "error: CODE"). */
  ended: Promise<string>;
  /** Wait until the received bytes satisfy `check` (or fail after timeoutMs). */
  waitFor(check: (text: string) => boolean, timeoutMs?: number): Promise<string>;
}

export function openClient(port: number, options: { localAddress?: string } = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true, localAddress: options.localAddress });
    let settle!: (how: string) => void;
    const ended = new Promise<string>((r) => (settle = r));
    let how = "";
    const done = (h: string) => {
      if (how) return;
      how = h;
      settle(h);
    };
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => done("end"));
    socket.on("close", () => done("close"));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      done(`error: ${error.code ?? error.message}`);
      reject(error);
    });
    socket.on("connect", () =>
      resolve({
        socket,
        received: () => Buffer.concat(chunks),
        ended,
        async waitFor(check, timeoutMs = 3_000) {
          const until = Date.now() + timeoutMs;
          while (Date.now() < until) {
            const text = Buffer.concat(chunks).toString("latin1");
            if (check(text)) return text;
            if (how) break;
            await Bun.sleep(5);
          }
          const text = Buffer.concat(chunks).toString("latin1");
          if (check(text)) return text;
          throw new Error(`never received the expected bytes (got ${JSON.stringify(text.slice(0, 200))}, ended: ${how || "no"})`);
        },
      }),
    );
  });
}

export interface L4Setup {
  tcp: TcpListeners;
  pools: Map<string, Pool>;
  /** The first listener's port. */
  port: number;
  ports: number[];
  logs: string[];
  stop(graceMs?: number): Promise<void>;
}

/**
 * Start TCP listeners from config input (pools + tcp, parsed by the real schema). Listen addresses default
 * to 127.0.0.1:0.
 */
export async function startL4(
  config: { pools: NonNullable<ConfigInput["pools"]>; tcp: Array<Partial<NonNullable<ConfigInput["tcp"]>[number]>> },
  deps: Partial<TcpListenerDeps> = {},
): Promise<L4Setup> {
  const parsed = configSchema.parse({
    pools: config.pools,
    tcp: config.tcp.map((l) => ({ listen: "127.0.0.1:0", ...l })),
  });
  const pools = new Map(Object.entries(parsed.pools).map(([name, p]) => [name, new Pool(name, p)]));
  const logs: string[] = [];
  const tcp = await startTcpListeners(parsed.tcp, {
    runtime: await getRuntime(),
    pools: () => pools,
    log: (line) => logs.push(line),
    ...deps,
  });
  const ports = tcp.listeners.map((l) => Number(l.address.slice(l.address.lastIndexOf(":") + 1)));
  return { tcp, pools, port: ports[0]!, ports, logs, stop: (graceMs = 0) => tcp.stop(graceMs) };
}

/** A TCP pool config over the given upstream addresses. */
export function tcpPoolOf(addresses: string[], extra: Record<string, unknown> = {}, server: Record<string, unknown> = {}) {
  return { mode: "tcp" as const, servers: addresses.map((address, i) => ({ address, id: `s${i + 1}`, ...server })), ...extra };
}

/** Random bytes (not all-zero pages: compression or dedup anywhere would show). */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(size, i + 65536)));
  return out;
}

export interface DeadPort {
  readonly port: number;
  readonly address: string;
  close(): void;
}

/**
 * A loopback port that refuses connections for as long as the test holds it: bound but never listening
 * (made through libc: runtime servers always listen). Unlike a port bound and released, no other process
 * running tests at the same time can start listening on it in between.
 */
export async function refusingPort(): Promise<DeadPort> {
  const socket = await bindRawSocket();
  return { port: socket.port, address: `127.0.0.1:${socket.port}`, close: () => socket.close() };
}
