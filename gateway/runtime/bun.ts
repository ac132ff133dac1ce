// The Bun adapter: Bun.serve for listeners, Bun's fetch for upstreams, Bun.connect for probes.
import { bunSockets } from "./bun-sockets.ts";
import type {
  DownstreamHandlers,
  HttpListener,
  Runtime,
  ServeOptions,
  UpstreamInit,
  UpstreamSocketHandlers,
} from "./types.ts";

interface SocketData {
  // `drain` (backpressure over) is Bun-only, so it is not part of DownstreamHandlers; the proxy offers it.
  handlers: DownstreamHandlers & { drain?(): void };
}

type BunSocket = import("bun").ServerWebSocket<SocketData>;

function toBytes(data: string | Buffer | ArrayBuffer | Uint8Array): string | Uint8Array {
  if (typeof data === "string") return data;
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

function downstream(ws: BunSocket) {
  return {
    // The result is kept for flow control: -1 means queued under backpressure (see `drain`).
    send: (data: string | Uint8Array) => ws.send(data),
    close: (code?: number, reason?: string) => ws.close(code, reason),
    ping: (data?: Uint8Array) => void ws.ping(data),
    pong: (data?: Uint8Array) => void ws.pong(data),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
}

async function serveHttp(options: ServeOptions): Promise<HttpListener> {
  const server = Bun.serve<SocketData>({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort ?? false,
    maxRequestBodySize: options.maxRequestBodySize,
    idleTimeout: options.idleTimeoutSeconds,
    fetch(request, srv) {
      const ip = srv.requestIP(request);
      return options.handler(request, {
        client: { address: ip?.address ?? "", port: ip?.port ?? 0 },
        upgrade(handlers, { protocol, headers }) {
          const extra = new Headers(headers);
          if (protocol) extra.set("sec-websocket-protocol", protocol);
          // Bun needs the original Request object here, never a rebuilt one.
          // After a successful upgrade Bun ignores the returned Response; it only has to be one.
          return srv.upgrade(request, { data: { handlers }, headers: extra }) ? new Response(null) : undefined;
        },
      });
    },
    websocket: {
      // Sluice enforces its own idle policy for tunnels; Bun's pings would only add frames the peers never sent.
      sendPings: false,
      idleTimeout: 0,
      perMessageDeflate: false,
      open: (ws) => ws.data.handlers.open(downstream(ws)),
      message: (ws, message) => ws.data.handlers.message(toBytes(message)),
      close: (ws, code, reason) => ws.data.handlers.close(code, reason),
      drain: (ws) => ws.data.handlers.drain?.(),
      ping: (ws, data) => ws.data.handlers.ping?.(toBytes(data) as Uint8Array),
      pong: (ws, data) => ws.data.handlers.pong?.(toBytes(data) as Uint8Array),
    },
  });
  return {
    hostname: server.hostname ?? options.hostname,
    port: server.port ?? options.port,
    stop: (force) => server.stop(force ?? false),
  };
}

function fetchUpstream(url: string, init: UpstreamInit): Promise<Response> {
  return fetch(url, {
    method: init.method,
    headers: init.headers,
    body: init.body,
    signal: init.signal,
    redirect: "manual",
    // Bytes pass untouched: no Accept-Encoding of Bun's own, no decoding.
    decompress: false,
    // The gateway runs its own response timeout; Bun's idle timer would cut long polls and slow streams.
    timeout: false,
    // Needed for streaming request bodies.
    duplex: "half",
  } as RequestInit);
}

function probeTcp(hostname: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`connect timeout after ${timeoutMs}ms`)), timeoutMs);
    const onAbort = () => finish(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    function finish(error?: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      error ? reject(error) : resolve();
    }
    Bun.connect({
      hostname,
      port,
      socket: {
        open(socket) {
          socket.end();
          finish();
        },
        data() {},
        connectError(_socket, error) {
          finish(error);
        },
        error(_socket, error) {
          finish(error);
        },
      },
    }).catch((error: Error) => finish(error));
  });
}

/** Bun reports a refused handshake as "... failed: Expected 101 status code: 403". */
function upstreamError(event: Event): Error {
  const e = event as ErrorEvent;
  const message = e.message || "upstream WebSocket error";
  const error = new Error(message) as Error & { code?: string; status?: number };
  const code = (e.error as { code?: string } | undefined)?.code;
  if (code) error.code = code;
  const status = /Expected 101 status code: (\d{3})/.exec(message);
  if (status) error.status = Number(status[1]);
  return error;
}

function connectWebSocket(url: string, options: { protocols: string[]; headers: Headers }, handlers: UpstreamSocketHandlers) {
  const headers: Record<string, string> = {};
  options.headers.forEach((value, name) => (headers[name] = value));
  // Bun's client takes headers (Host included) in an options object. No permessage-deflate on the
  // upstream hop: the gateway would pay to inflate and deflate every message (the client side has none either).
  const init: Bun.WebSocketOptions = { headers, protocols: options.protocols, perMessageDeflate: false };
  // The DOM lib's WebSocket type shadows Bun's, which has the options, ping/pong and pause/resume.
  const ws = new WebSocket(url, init as unknown as string[]) as unknown as Bun.WebSocket;
  ws.binaryType = "arraybuffer";
  ws.onopen = () => handlers.open();
  ws.onmessage = (event) => handlers.message(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
  ws.onclose = (event) => handlers.close(event.code, event.reason);
  ws.onerror = (event) => handlers.error(upstreamError(event));
  // Ping/pong payloads follow binaryType ("arraybuffer") like messages do.
  ws.addEventListener("ping", (event) => handlers.ping?.(new Uint8Array((event as MessageEvent).data as ArrayBuffer)));
  ws.addEventListener("pong", (event) => handlers.pong?.(new Uint8Array((event as MessageEvent).data as ArrayBuffer)));
  return {
    get protocol() {
      return ws.protocol;
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send: (data: string | Uint8Array) => ws.send(data as string | Uint8Array<ArrayBuffer>),
    close: (code?: number, reason?: string) => ws.close(code, reason),
    ping: (data?: Uint8Array) => ws.ping(data),
    pong: (data?: Uint8Array) => ws.pong(data),
    pause: () => void ws.pause(),
    resume: () => void ws.resume(),
  };
}

export const bunRuntime: Runtime = {
  ...bunSockets,
  name: "bun",
  version: Bun.version,
  serveHttp,
  fetchUpstream,
  keepsContentEncoding: true,
  headerLimit: 16 * 1024,
  mutableUpstreamHeaders: true,
  probeTcp,
  connectWebSocket,
  // A compiled binary runs its embedded entry point by itself; otherwise bun needs the script again.
  selfCommand: () => (Bun.main.startsWith("/$bunfs/") ? [process.execPath] : [process.execPath, Bun.main]),
  onSignal: (signal, listener) => void process.on(signal, listener),
  exit: (code) => process.exit(code),
  args: process.argv.slice(2),
  env: (name) => process.env[name],
};
