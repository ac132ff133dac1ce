// Shared helpers for end-to-end proxy tests: real upstreams on 127.0.0.1:0 (Bun.serve that records what it
// received, raw TCP servers that misbehave on purpose), a raw TCP client for requests fetch refuses to send,
// and a gateway factory with quiet defaults.
import { bindRawSocket } from "./raw-socket.ts";
import { jsonLines } from "./json-lines.ts";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import type { Server } from "bun";
import { startGateway } from "../../gateway/gateway.ts";
import type { ConfigInput } from "../../gateway/config/schema.ts";

export type Gateway = Awaited<ReturnType<typeof startGateway>>;

/** What a recording upstream saw of one request. */
export interface Seen {
  method: string;
  /** Path and query as the upstream received them. */
  url: string;
  headers: Headers;
  /** The body as text (only when the upstream's handler did not consume it). */
  body: string;
}

export interface Upstream {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly seen: Seen[];
  readonly server: Server<unknown>;
  stop(): Promise<void>;
}

export type UpstreamHandler = (request: Request, seen: Seen) => Response | Promise<Response> | undefined | Promise<Response | undefined>;

/**
 * A Bun.serve upstream that records every request. Without a handler it answers 200 with its own name
 * (also in an `x-upstream` header); a handler returning undefined falls back to that default. The body is
 * read into `seen.body` unless the handler reads it first.
 */
export function startUpstream(name = "up", handler?: UpstreamHandler): Upstream {
  const seen: Seen[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    maxRequestBodySize: 1024 * 1024 * 1024,
    async fetch(request) {
      const u = new URL(request.url);
      const entry: Seen = { method: request.method, url: u.pathname + u.search, headers: new Headers(request.headers), body: "" };
      seen.push(entry);
      const answer = handler ? await handler(request, entry) : undefined;
      if (answer) return answer;
      if (!request.bodyUsed && request.body) entry.body = await request.text();
      return new Response(name, { headers: { "x-upstream": name } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port!,
    name,
    seen,
    server,
    stop: () => server.stop(true),
  };
}

export interface RawUpstream {
  readonly url: string;
  readonly port: number;
  /** Every request head the raw upstream read (up to the blank line), as text. */
  readonly heads: string[];
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/**
 * A node:net upstream that reads each request head and then calls `onRequest` with the socket, to answer
 * however badly the test wants.
 */
export async function startRawUpstream(onRequest: (socket: Socket, head: string) => void): Promise<RawUpstream> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      const end = buffered.indexOf("\r\n\r\n");
      if (end === -1) return;
      const head = buffered.slice(0, end);
      buffered = buffered.slice(end + 4);
      heads.push(head);
      onRequest(socket, head);
    };
    socket.on("data", onData);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    heads,
    sockets,
    close: () => closeServer(server, sockets),
  };
}

export function listen(server: NetServer, backlog?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, backlog }, () => resolve((server.address() as { port: number }).port));
  });
}

export function closeServer(server: NetServer, sockets?: Iterable<Socket>): Promise<void> {
  for (const s of sockets ?? []) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface RawResponse {
  /** Everything the server sent, as latin1 text. */
  text: string;
  bytes: Buffer;
  /** Status code of the first response, or 0 if none arrived. */
  status: number;
  /** Header lines of the first response, lower-cased names. */
  headers: Map<string, string>;
  /** What followed the first response's head. */
  body: string;
}

/**
 * Send raw bytes to host:port and collect what comes back until the server closes, or `idleMs` of silence
 * once something arrived (keep-alive servers do not close).
 */
export function rawRequest(
  port: number,
  data: string | Uint8Array | Array<string | Uint8Array>,
  options: { idleMs?: number; timeoutMs?: number; gapMs?: number } = {},
): Promise<RawResponse> {
  const { idleMs = 300, timeoutMs = 5_000, gapMs = 0 } = options;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: "127.0.0.1", port });
    let idle: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      clearTimeout(idle);
      clearTimeout(overall);
      socket.destroy();
      resolve(parseRaw(Buffer.concat(chunks)));
    };
    const overall = setTimeout(done, timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(idle);
      idle = setTimeout(done, idleMs);
    });
    socket.on("close", done);
    socket.on("error", done);
    socket.on("connect", async () => {
      const parts = Array.isArray(data) ? data : [data];
      for (const part of parts) {
        socket.write(part);
        if (gapMs) await Bun.sleep(gapMs);
      }
    });
  });
}

export function parseRaw(bytes: Buffer): RawResponse {
  const text = bytes.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  const head = end === -1 ? text : text.slice(0, end);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { text, bytes, status, headers, body: end === -1 ? "" : text.slice(end + 4) };
}

/** Start a gateway with no admin listener and no access log; `pools` entries may be a list of URLs. */
export function gateway(
  config: Omit<ConfigInput, "pools"> & { pools?: Record<string, NonNullable<ConfigInput["pools"]>[string] | string[]> },
): Promise<Gateway> {
  const pools: NonNullable<ConfigInput["pools"]> = {};
  for (const [name, pool] of Object.entries(config.pools ?? {})) {
    pools[name] = Array.isArray(pool) ? { servers: pool.map((url) => ({ url })) } : pool;
  }
  return startGateway({ config: { listen: "127.0.0.1:0", admin: false, accessLog: false, ...config, pools } });
}

/** The gateway listener's port. */
export function portOf(gw: Gateway): number {
  return Number(new URL(gw.url).port);
}

/** A stream of `total` pseudo-random bytes in `chunk`-sized pieces, generated on demand (never held whole). */
export function generatedStream(total: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  let seed = 1;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= total) return controller.close();
        const n = Math.min(chunk, total - sent);
        const buf = new Uint8Array(n);
        for (let i = 0; i < n; i += 4096) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          buf[i] = seed & 0xff;
        }
        sent += n;
        controller.enqueue(buf);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Byte count and SHA-256 of a stream, read chunk by chunk. */
export async function digest(stream: ReadableStream<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const hasher = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.byteLength;
    hasher.update(chunk);
  }
  return { bytes, sha256: hasher.digest("hex") };
}

/** The JSON error body of a gateway answer, checked for shape. */
export async function errorBody(response: Response): Promise<{ error: string; requestId: string }> {
  expectJson(response);
  const body = (await response.json()) as { error: string; requestId: string };
  if (typeof body.error !== "string" || typeof body.requestId !== "string" || body.requestId === "") {
    throw new Error(`not a gateway error body: ${JSON.stringify(body)}`);
  }
  return body;
}

function expectJson(response: Response): void {
  const type = response.headers.get("content-type") ?? "";
  if (!type.startsWith("application/json")) throw new Error(`expected JSON, got content-type ${type}`);
}

export interface Blackhole {
  readonly port: number;
  readonly url: string;
  close(): void;
}

/**
 * A loopback port where TCP handshakes never complete: a socket that listens with backlog 0 and never
 * accepts (made through libc, since every runtime server accepts on its own), with its one queue slot
 * filled by a first connection. Linux then drops further SYNs, so a connect just waits — what a
 * firewalled or overloaded upstream looks like.
 */
export async function startBlackhole(): Promise<Blackhole> {
  const socket = await bindRawSocket();
  socket.listen(0);
  const port = socket.port;
  // Fill the accept queue: this one completes, every later handshake hangs.
  const filler = connect({ host: "127.0.0.1", port });
  filler.on("error", () => {});
  await new Promise<void>((resolve) => filler.once("connect", () => resolve()));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close() {
      filler.destroy();
      socket.close();
    },
  };
}

export interface GatewayProcess {
  readonly url: string;
  /** Highest RSS (MB) of the gateway process since the previous call, and its RSS now (after a GC). */
  peak(): Promise<{ peakMB: number; nowMB: number }>;
  stop(): Promise<void>;
}

/** A gateway in a child process (see gateway-process.ts), for measuring its memory alone. */
export async function spawnGateway(config: ConfigInput): Promise<GatewayProcess> {
  const proc = Bun.spawn(
    [process.execPath, `${import.meta.dir}/gateway-process.ts`, JSON.stringify({ listen: "127.0.0.1:0", admin: false, accessLog: false, ...config })],
    {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const next = jsonLines(proc.stdout, "the gateway process exited");
  const { url } = await next();
  return {
    url,
    async peak() {
      proc.stdin.write("peak\n");
      proc.stdin.flush();
      return await next();
    },
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}
