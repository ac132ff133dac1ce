// The Deno adapter: Deno.serve for the admin listener, fetch with a Host-preserving client for health checks,
// Deno.connect for probes and raw sockets (deno-sockets.ts, which the HTTP engine and the L4 listeners run on).
import { openDenoLog } from "./deno-log-file.ts";
import { denoSockets } from "./deno-sockets.ts";
import type { HttpListener, Runtime, ServeOptions, UpstreamInit } from "./types.ts";

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
      return options.handler(request, { client: { address: info.remoteAddr.hostname, port: info.remoteAddr.port } });
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

export const denoRuntime: Runtime = {
  ...denoSockets,
  name: "deno",
  version: Deno.version.deno,
  serveHttp,
  fetchUpstream,
  probeTcp,
  selfCommand: () => [Deno.execPath(), "run", "-A", "--unstable-no-legacy-abort", "--unstable-net", Deno.mainModule],
  onSignal: (signal, listener) => Deno.addSignalListener(signal, listener),
  openLog: openDenoLog,
  exit: (code) => Deno.exit(code) as never,
  args: Deno.args,
  env: (name) => Deno.env.get(name),
};
