// The one interface between Sluice and the JavaScript runtime under it.
// Everything outside gateway/runtime/ sees Bun and Deno only through this shape, so the gateway core
// stays neutral and a third runtime would be one more file here.
import type { SocketRuntime } from "./sockets.ts";
import type { PendingLog } from "../observability/answer-outcome.ts";
import type { ServerTrace } from "../observability/tracing.ts";

/** Who is on the other end of a downstream connection. */
export interface ClientInfo {
  address: string;
  port: number;
}

/** Per-request facts only the connection knows, for handlers on the hono path. */
export interface RequestContext {
  client: ClientInfo;
  /** The request target (path and query) as the client sent it; the Request's URL holds the normalised path. */
  target?: string;
  /**
   * Proxy this upgrade request to the route's pool as bytes (a pipe after the upstream's 101). The Response
   * returned must be the handler's answer; the connection does the rest. Only proxy listeners have it.
   */
  upgradeVia?(route: object, pathAndQuery: string, headers: Headers): Response;
  /** What the onRequest phase's hooks left in `vars`, handed on to the later phases' ProxyContext. */
  vars?: Map<string, unknown>;
  /** The onLog hooks of the route that won (global plugins' then the route's), set once it is routed. */
  logHooks?: readonly ((entry: never) => void)[];
  /**
   * The connection finishes the request's log line itself, once the answer is written (bytes sent, how it
   * ended): the core middleware leaves it in `pendingLog` instead of writing it at once.
   */
  deferLog?: boolean;
  pendingLog?: PendingLog;
  /** The request's server span, while tracing is on: the proxy adds a client span per upstream attempt. */
  trace?: ServerTrace;
}

export type HttpHandler = (request: Request, context: RequestContext) => Response | Promise<Response>;

export interface ServeOptions {
  hostname: string;
  port: number;
  handler: HttpHandler;
  /** The runtime's own body cap: a backstop behind the gateway's 413 check. */
  maxRequestBodySize: number;
  /** Seconds a downstream connection may sit idle (keep-alive, slow client). */
  idleTimeoutSeconds: number;
  /** Several processes may listen on the same port (the `workers` setting). */
  reusePort?: boolean;
}

export interface HttpListener {
  readonly hostname: string;
  readonly port: number;
  /** Stop accepting; with `force`, also cut connections still open. */
  stop(force?: boolean): Promise<void>;
}

/** Options every runtime honours for an upstream HTTP request. */
export interface UpstreamInit {
  method: string;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  signal: AbortSignal;
}

/** A file the access log appends to, or standard output: writes run off the event loop and never block it. */
export interface LogFile {
  /** Write all of `bytes` (short writes are continued); resolves once the system has taken them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Close the file (standard output stays open). */
  close(): Promise<void>;
  /**
   * Writes up to this many bytes reach the destination whole, never interleaved with another process's: set for
   * standard output, which may be a pipe shared by every --workers process (PIPE_BUF). Files opened for appending
   * take each write whole.
   */
  readonly atomicBytes?: number;
}

/** The signals the gateway handles. */
export type GatewaySignal = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGUSR1";

export interface Runtime extends SocketRuntime {
  readonly name: "bun" | "deno";
  readonly version: string;
  /** An HTTP server on the runtime's own server (the admin listener; proxy listeners use the gateway's engine). */
  serveHttp(options: ServeOptions): Promise<HttpListener>;
  /**
   * Send a request with the runtime's fetch (active health checks only; proxied requests use the gateway's own
   * client): redirects are not followed, bodies are not decoded where the runtime allows it, and the Host
   * header given is the one sent.
   */
  fetchUpstream(url: string, init: UpstreamInit): Promise<Response>;
  /**
   * Open a TCP connection and close it: resolves when connected, rejects on refusal, after `timeoutMs`, or
   * at once when `signal` aborts (a connection made after that is closed straight away).
   */
  probeTcp(hostname: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** The command that starts this same program again (for worker processes). */
  selfCommand(): string[];
  onSignal(signal: GatewaySignal, listener: () => void): void;
  /** Open `path` for appending (created if missing, mode 0644 before the umask), or standard output without one. */
  openLog(path?: string): Promise<LogFile>;
  exit(code: number): never;
  readonly args: string[];
  env(name: string): string | undefined;
}
