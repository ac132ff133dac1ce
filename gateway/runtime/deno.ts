// The Deno adapter: Deno.serve for listeners, fetch with a Host-preserving client, Deno.connect for probes.
// Deno's fetch always decodes compressed bodies, so responses lose Content-Encoding here (keepsContentEncoding).
import { denoSockets } from "./deno-sockets.ts";
import type {
  HttpListener,
  Runtime,
  ServeOptions,
  UpstreamInit,
  UpstreamSocketHandlers,
} from "./types.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

// Without allowHost Deno replaces the Host header with the URL's host.
const upstreamClient = Deno.createHttpClient({ allowHost: true });

async function serveHttp(options: ServeOptions): Promise<HttpListener> {
  const ready = Promise.withResolvers<{ hostname: string; port: number }>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort ?? false,
    onListen: (addr: { hostname: string; port: number }) => ready.resolve(addr),
    // deno-lint-ignore no-explicit-any
    handler(request: Request, info: any) {
      return options.handler(request, {
        client: { address: info.remoteAddr.hostname, port: info.remoteAddr.port },
        upgrade(handlers, { protocol, headers }) {
          let upgraded: { socket: WebSocket; response: Response };
          try {
            upgraded = Deno.upgradeWebSocket(request, { protocol, idleTimeout: 0 });
          } catch {
            return undefined; // not an upgradable request
          }
          const { socket, response } = upgraded;
          headers?.forEach((value, name) => {
            try {
              response.headers.set(name, value);
            } catch {
              // Immutable on some Deno versions: the extra headers are a courtesy, the upgrade is not.
            }
          });
          socket.binaryType = "arraybuffer";
          socket.onopen = () =>
            handlers.open({
              send: (data: string | Uint8Array) => socket.send(data as string | Uint8Array<ArrayBuffer>),
              close: (code?: number, reason?: string) => socket.close(code, reason),
              // Deno answers pings itself and exposes neither frame.
              ping: () => {},
              pong: () => {},
            });
          socket.onmessage = (event: MessageEvent) =>
            handlers.message(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
          // An error is always followed by close; handling it here keeps Deno from reporting it as uncaught.
          socket.onerror = () => {};
          // Deno reports a connection lost without a close frame as code 0; the standard says 1006.
          socket.onclose = (event: CloseEvent) => handlers.close(event.code || 1006, event.reason);
          return response;
        },
      });
    },
  });
  const addr = await ready.promise;
  return {
    hostname: addr.hostname,
    port: addr.port,
    async stop(force) {
      if (force) await server.shutdown();
      else await server.shutdown();
    },
  };
}

function fetchUpstream(url: string, init: UpstreamInit): Promise<Response> {
  return fetch(url, {
    method: init.method,
    headers: init.headers,
    body: init.body,
    signal: init.signal,
    redirect: "manual",
    // @ts-ignore Deno-only option
    client: upstreamClient,
  });
}

async function probeTcp(hostname: string, port: number, timeoutMs: number, cancel?: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
  const conn = await Deno.connect({ hostname, port, signal });
  conn.close();
}

/** Deno reports a refused handshake as "failed to connect to WebSocket: Invalid status code: 403". */
function upstreamError(event: Event): Error {
  const message = (event as ErrorEvent).message || "upstream WebSocket error";
  const error = new Error(message) as Error & { status?: number };
  const status = /Invalid status code:? (\d{3})/i.exec(message);
  if (status) error.status = Number(status[1]);
  return error;
}

function connectWebSocket(url: string, options: { protocols: string[]; headers: Headers }, handlers: UpstreamSocketHandlers) {
  const headers: Record<string, string> = {};
  options.headers.forEach((value, name) => (headers[name] = value));
  // Deno's client takes extra headers in an options object; it always sends the URL's Host.
  // deno-lint-ignore no-explicit-any
  const ws: WebSocket = new (WebSocket as any)(url, { protocols: options.protocols, headers });
  ws.binaryType = "arraybuffer";
  ws.onopen = () => handlers.open();
  ws.onmessage = (event) => handlers.message(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
  // Code 0 when the connection failed or was lost without a close frame: the standard says 1006.
  ws.onclose = (event) => handlers.close(event.code || 1006, event.reason);
  ws.onerror = (event) => handlers.error(upstreamError(event));
  return {
    get protocol() {
      return ws.protocol;
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send: (data: string | Uint8Array) => ws.send(data as string | Uint8Array<ArrayBuffer>),
    close: (code?: number, reason?: string) => ws.close(code, reason),
  };
}

export const denoRuntime: Runtime = {
  ...denoSockets,
  name: "deno",
  version: Deno.version.deno,
  serveHttp,
  fetchUpstream,
  keepsContentEncoding: false,
  headerLimit: undefined,
  mutableUpstreamHeaders: false,
  probeTcp,
  connectWebSocket,
  selfCommand: () => [Deno.execPath(), "run", "-A", "--unstable-no-legacy-abort", "--unstable-net", Deno.mainModule],
  onSignal: (signal, listener) => Deno.addSignalListener(signal, listener),
  exit: (code) => Deno.exit(code) as never,
  args: Deno.args,
  env: (name) => Deno.env.get(name),
};
