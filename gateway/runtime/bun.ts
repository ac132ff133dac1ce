// The Bun adapter: Bun.serve for the admin listener, Bun's fetch for health checks, Bun.connect for probes
// and raw sockets (bun-sockets.ts, which the HTTP engine and the L4 listeners run on).
import { openBunLog } from "./bun-log-file.ts";
import { bunSockets } from "./bun-sockets.ts";
import type { HttpListener, Runtime, ServeOptions, UpstreamInit } from "./types.ts";

async function serveHttp(options: ServeOptions): Promise<HttpListener> {
  const server = Bun.serve({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort ?? false,
    maxRequestBodySize: options.maxRequestBodySize,
    idleTimeout: options.idleTimeoutSeconds,
    fetch(request, srv) {
      const ip = srv.requestIP(request);
      return options.handler(request, { client: { address: ip?.address ?? "", port: ip?.port ?? 0 } });
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

export const bunRuntime: Runtime = {
  ...bunSockets,
  name: "bun",
  version: Bun.version,
  serveHttp,
  fetchUpstream,
  probeTcp,
  // A compiled binary runs its embedded entry point by itself; otherwise bun needs the script again.
  selfCommand: () => (Bun.main.startsWith("/$bunfs/") ? [process.execPath] : [process.execPath, Bun.main]),
  onSignal: (signal, listener) => void process.on(signal, listener),
  openLog: openBunLog,
  exit: (code) => process.exit(code),
  args: process.argv.slice(2),
  env: (name) => process.env[name],
};
