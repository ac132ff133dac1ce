// The Bun adapter: Bun.serve for listeners, Bun's fetch for upstreams, Bun.connect for probes.
import type {
  DownstreamHandlers,
  HttpListener,
  Runtime,
  ServeOptions,
  UpstreamInit,
  UpstreamSocketHandlers,
} from "./types.ts";

interface SocketData {
  handlers: DownstreamHandlers;
}

type BunSocket = import("bun").ServerWebSocket<SocketData>;

function toBytes(data: string | Buffer | ArrayBuffer | Uint8Array): string | Uint8Array {
  if (typeof data === "string") return data;
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

function downstream(ws: BunSocket) {
  return {
    send: (data: string | Uint8Array) => void ws.send(data),
    close: (code?: number, reason?: string) => ws.close(code, reason),
    ping: (data?: Uint8Array) => void ws.ping(data),
    pong: (data?: Uint8Array) => void ws.pong(data),
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
    // @ts-expect-error duplex is needed for streaming request bodies and is missing from some typings
    duplex: "half",
  });
}

function probeTcp(hostname: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`connect timeout after ${timeoutMs}ms`)), timeoutMs);
    function finish(error?: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
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

function connectWebSocket(url: string, options: { protocols: string[]; headers: Headers }, handlers: UpstreamSocketHandlers) {
  const headers: Record<string, string> = {};
  options.headers.forEach((value, name) => (headers[name] = value));
  const ws = new WebSocket(url, { headers, protocols: options.protocols } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => handlers.open();
  ws.onmessage = (event) => handlers.message(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
  ws.onclose = (event) => handlers.close(event.code, event.reason);
  ws.onerror = (event) => handlers.error(new Error((event as ErrorEvent).message || "upstream WebSocket error"));
  ws.addEventListener("ping" as "open", (event) => handlers.ping?.(new Uint8Array((event as unknown as MessageEvent).data as ArrayBuffer)));
  ws.addEventListener("pong" as "open", (event) => handlers.pong?.(new Uint8Array((event as unknown as MessageEvent).data as ArrayBuffer)));
  return {
    get protocol() {
      return ws.protocol;
    },
    send: (data: string | Uint8Array) => ws.send(data),
    close: (code?: number, reason?: string) => ws.close(code, reason),
    ping: (data?: Uint8Array) => ws.ping(data),
    pong: (data?: Uint8Array) => ws.pong(data),
  };
}

export const bunRuntime: Runtime = {
  name: "bun",
  version: Bun.version,
  serveHttp,
  fetchUpstream,
  keepsContentEncoding: true,
  probeTcp,
  connectWebSocket,
  onSignal: (signal, listener) => void process.on(signal, listener),
  exit: (code) => process.exit(code),
  args: process.argv.slice(2),
  env: (name) => process.env[name],
};
