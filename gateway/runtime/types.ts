// The one interface between Sluice and the JavaScript runtime under it.
// Everything outside gateway/runtime/ sees Bun and Deno only through this shape, so the gateway core
// stays neutral and a third runtime would be one more file here.
import type { SocketRuntime } from "./sockets.ts";

/** Who is on the other end of a downstream connection. */
export interface ClientInfo {
  address: string;
  port: number;
}

/** A downstream WebSocket after the upgrade, as the proxy drives it. */
export interface DownstreamSocket {
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  ping(data?: Uint8Array): void;
  pong(data?: Uint8Array): void;
}

/** What the proxy does when events arrive on a downstream WebSocket. */
export interface DownstreamHandlers {
  open(socket: DownstreamSocket): void;
  message(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
  ping?(data: Uint8Array): void;
  pong?(data: Uint8Array): void;
}

/** Per-request facts only the runtime knows. */
export interface RequestContext {
  client: ClientInfo;
  /**
   * Accept a WebSocket upgrade of this request. The Response must be handed back to the runtime as the
   * request's answer; undefined means the request could not be upgraded.
   */
  upgrade(handlers: DownstreamHandlers, options: { protocol?: string; headers?: Headers }): Response | undefined;
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

/** An upstream WebSocket, in the shape of the standard client plus ping/pong where the runtime has them. */
export interface UpstreamSocket {
  readonly protocol: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  ping?(data?: Uint8Array): void;
  pong?(data?: Uint8Array): void;
}

export interface UpstreamSocketHandlers {
  open(): void;
  message(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
  error(error: Error): void;
  ping?(data: Uint8Array): void;
  pong?(data: Uint8Array): void;
}

export interface Runtime extends SocketRuntime {
  readonly name: "bun" | "deno";
  readonly version: string;
  serveHttp(options: ServeOptions): Promise<HttpListener>;
  /**
   * Send a request upstream: redirects are not followed, bodies are not decoded where the runtime allows it,
   * and the Host header given is the one sent.
   */
  fetchUpstream(url: string, init: UpstreamInit): Promise<Response>;
  /** Whether `fetchUpstream` hands back bodies exactly as the upstream sent them (false: decoded). */
  readonly keepsContentEncoding: boolean;
  /** Request header bytes above which the runtime itself answers 431, if it has such a cap. */
  readonly headerLimit: number | undefined;
  /** Whether the headers of a Response from `fetchUpstream` may be changed in place (saves a copy per request). */
  readonly mutableUpstreamHeaders: boolean;
  /**
   * Open a TCP connection and close it: resolves when connected, rejects on refusal, after `timeoutMs`, or
   * at once when `signal` aborts (a connection made after that is closed straight away).
   */
  probeTcp(hostname: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  connectWebSocket(url: string, options: { protocols: string[]; headers: Headers }, handlers: UpstreamSocketHandlers): UpstreamSocket;
  /** The command that starts this same program again (for worker processes). */
  selfCommand(): string[];
  onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", listener: () => void): void;
  exit(code: number): never;
  readonly args: string[];
  env(name: string): string | undefined;
}
