// The plugin API. A plugin is a module whose default export is `definePlugin({ name, options?, setup })`;
// `setup` runs once per config load and returns the hooks it wants. Hooks are a closed list: a typo in a
// hook name is an error at load, not a hook that silently never runs.
import type { Hono, MiddlewareHandler } from "hono";
import type { RequestContext } from "../runtime/types.ts";

/** Hono environment of every Sluice app: plugin middleware reads these through `c.env` and `c.var`. */
export type GatewayEnv = {
  Bindings: { sluice: RequestContext };
  Variables: { requestId: string; log: RequestLog };
};

/** What the access log will say about the request beyond its status; phases may fill it in. */
export interface RequestLog {
  route?: string;
  pool?: string;
  server?: string;
  error?: string;
  /** How long connecting to the server took (ms); 0 when a pooled connection was reused. */
  upstreamConnectMs?: number;
  /** From the request sent whole to the server's answer head (ms). */
  upstreamResponseMs?: number;
  /** Attempts after the first: another server after a failed one, or a new connection after a stale pooled one. */
  retries?: number;
}

/**
 * How a request ended, in the access log: `ok` (the answer went out whole, whatever its status, from an upstream,
 * a static file, a redirect or a plugin that let it through), `refused` (the gateway or a plugin answered 4xx
 * without asking an upstream: a malformed request, a limit, no route, 401/403/429…), `no-server` (503: no server
 * available, the queue full or timed out), `upstream-failed` (502, or the answer cut because the upstream broke
 * off), `timeout` (504, or the upstream went silent in the middle of its answer), `client-gone` (the client
 * left before its answer ended: 499, or its connection closed mid-answer), `client-timeout` (408: the client's
 * body stalled), `internal-error` (500), `upgraded` (101: the connection became a tunnel).
 */
export type Termination = "ok" | "refused" | "no-server" | "upstream-failed" | "timeout" | "client-gone" | "client-timeout" | "internal-error" | "upgraded";

/** One proxied exchange, as the phases see it. Mutate `upstream` before the request is sent. */
export interface ProxyContext {
  readonly request: Request;
  readonly requestId: string;
  readonly clientIp: string;
  readonly route: string;
  readonly pool: string;
  /**
   * What will be sent upstream, and where: `beforeUpstream` may change the headers and the path, send the request
   * to another HTTP pool of the config (`pool`, whose balancing, retries and timeouts then apply), or name the
   * `server` (an id of that pool) to take while it is available, as a sticky cookie would.
   */
  readonly upstream: { headers: Headers; pathAndQuery: string; pool: string; server?: string };
  /** The server chosen, once one is. */
  server?: string;
  readonly startedAt: number;
  /** Room for plugins to pass facts from one phase to a later one. */
  readonly vars: Map<string, unknown>;
}

/**
 * A request as the `onRequest` phase sees it: read from the parsed head on the engine's byte path, with no
 * Request, Headers or Response object made. Changes to what goes upstream and to the answer are recorded here
 * and applied as the head is written.
 */
export interface GatewayRequest {
  readonly method: string;
  /** The Host the client named (with its port, if it sent one); "" for none. */
  readonly host: string;
  /** The normalised path routing matched. */
  readonly path: string;
  /** The query string with its "?", or "". */
  readonly search: string;
  /** The TCP peer's address. */
  readonly peerIp: string;
  /**
   * The client's address: the peer's, or — when the peer is one of `trustedProxies` — the right-most address of
   * X-Forwarded-For that is not a trusted proxy (as nginx's real_ip_recursive).
   */
  readonly clientIp: string;
  readonly requestId: string;
  /** The route that matched ("" when none did: only global plugins' hooks run then, before the 404). */
  readonly route: string;
  /** A request header as the client sent it (several fields of one name joined with ", "), or undefined. */
  header(name: string): string | undefined;
  /** A cookie's value as sent, or undefined. */
  cookie(name: string): string | undefined;
  /** A query parameter's first value (decoded as forms are), or undefined. */
  query(name: string): string | undefined;
  /** Room for plugins to pass facts to later hooks of the same request (also to `ProxyContext.vars`). */
  readonly vars: Map<string, unknown>;
  /**
   * Use this id for the request from here on: X-Request-Id both ways, the access log, the gateway's error answers.
   * A token of 1–200 letters, digits and `_ . : @ = + / -`, like the X-Request-Id the gateway accepts from clients.
   */
  setRequestId(id: string): void;
  /** Send this header upstream instead of any the client sent under that name. */
  setHeader(name: string, value: string): void;
  /** Do not send the client's header of this name upstream. */
  removeHeader(name: string): void;
  /** Answer with this header (replacing the upstream's of that name), also on answers the gateway or a plugin gives. */
  setResponseHeader(name: string, value: string): void;
  /** Add this header to the answer, keeping any the upstream sent. */
  appendResponseHeader(name: string, value: string): void;
  /** Drop the upstream's header of this name from the answer. */
  removeResponseHeader(name: string): void;
}

/** An answer a plugin gives in `onRequest` instead of the upstream's. `json` is serialised with its content type. */
export interface GatewayAnswer {
  status: number;
  headers?: Record<string, string | readonly string[]>;
  body?: string | Uint8Array;
  json?: unknown;
  /** Why, for the access log's `error` field (e.g. "jwt: token expired"); never sent to the client. */
  logError?: string;
}

/** Why a proxied request failed, as the `onError` phase sees it. */
export interface ProxyError {
  status: number;
  /** What the client is told. */
  message: string;
  /** What went wrong in detail (addresses, error codes): for logs, never for clients. */
  detail?: string;
  kind: string;
}

/** One line of the access log, handed to every `onLog` hook. */
export interface LogEntry {
  time: string;
  requestId: string;
  clientIp: string;
  method: string;
  host: string;
  /** The path the client sent, without its query. */
  path: string;
  /** The query string the client sent, without its "?" (absent when there is none). */
  query?: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  protocol: string;
  status: number;
  /** From the request's head to the end of its answer. */
  durationMs: number;
  /** Request body bytes received from the client (a chunked body's data, without its framing). */
  bytesIn: number;
  /** Bytes of the answer sent after its head (chunk framing included, as nginx's $body_bytes_sent). */
  bytesOut: number;
  route?: string;
  pool?: string;
  server?: string;
  /** How long connecting to the server took (ms); 0 when a pooled connection was reused. */
  upstreamConnectMs?: number;
  /** From the request sent whole to the server's answer head (ms). */
  upstreamResponseMs?: number;
  /** Attempts after the first (another server, or a new connection after a stale pooled one). */
  retries: number;
  termination: Termination;
  userAgent?: string;
  referer?: string;
  error?: string;
}

type MaybePromise<T> = T | Promise<T>;

export interface PluginHooks {
  /**
   * The gateway phase on the parsed request, after routing and before any server is chosen (and before any hono
   * middleware): read the request, change what goes upstream and what the answer carries, or answer at once.
   * Runs on the engine's byte path, so a route whose plugins use only this hook (and onLog/teardown) makes no
   * Request or Response object. Global plugins' hooks run for every request, a route's for that route's.
   */
  onRequest?(request: GatewayRequest): MaybePromise<GatewayAnswer | void>;
  /** hono middleware wrapped around the request (global plugins: every request; route plugins: that route's). */
  middleware?: MiddlewareHandler<GatewayEnv>;
  /** Add routes of the plugin's own to the gateway's hono app (global plugins only); they win over proxy routes. */
  routes?(app: Hono<GatewayEnv>): void;
  /** Before the upstream request is sent: change `ctx.upstream`, or return a Response to answer without the upstream. */
  beforeUpstream?(ctx: ProxyContext): MaybePromise<Response | void>;
  /** When the upstream's response headers arrive: return a different Response, or change this one's headers. */
  afterUpstream?(ctx: ProxyContext, response: Response): MaybePromise<Response | void>;
  /**
   * Transform the request body on its way upstream: return a TransformStream of bytes, or nothing to leave it.
   * Routes with this hook send their bodies upstream chunked (the length may change), after beforeUpstream.
   */
  requestBody?(ctx: ProxyContext): TransformStream<Uint8Array, Uint8Array> | void;
  /**
   * Transform the response body on its way to the client (after afterUpstream): return a TransformStream of
   * bytes, or nothing to leave it. A transformed answer loses its Content-Length (and ETag: it is other bytes).
   */
  responseBody?(ctx: ProxyContext, response: Response): TransformStream<Uint8Array, Uint8Array> | void;
  /** When the exchange failed: return a Response to answer with instead of the JSON error. */
  onError?(ctx: ProxyContext, error: ProxyError): MaybePromise<Response | void>;
  /** Once per request, after the answer is decided. */
  onLog?(entry: LogEntry): void;
  /**
   * Close what `setup` opened (timers, sockets, clients): run once for every setup, when a reload has replaced
   * this config and its last request has ended, when the gateway stops, and after `sluice check`.
   */
  teardown?(): MaybePromise<void>;
}

export const HOOK_NAMES: ReadonlyArray<keyof PluginHooks> = [
  "onRequest",
  "middleware",
  "routes",
  "beforeUpstream",
  "afterUpstream",
  "requestBody",
  "responseBody",
  "onError",
  "onLog",
  "teardown",
];

/** Any Standard Schema validator (zod, valibot, arktype…) can describe a plugin's options. */
export interface OptionsSchema<Output> {
  readonly "~standard": {
    validate(value: unknown): StandardResult<Output> | Promise<StandardResult<Output>>;
  };
}
type StandardResult<Output> =
  | { value: Output; issues?: undefined }
  | { issues: ReadonlyArray<{ message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }> };

/** What setup() may use besides its options. */
export interface PluginSetupContext {
  /** Directory of the config file: resolve the plugin's relative paths against it. */
  configDir: string;
  log(message: string): void;
  /**
   * Where the config lists this plugin: "global" (top-level `plugins`: its hooks meet every request) or "route"
   * (one route's `plugins`). A plugin that keeps state per route (counts, caches) tells the two apart with it.
   */
  scope: "global" | "route";
}

export interface Plugin<Options = unknown> {
  name: string;
  options?: OptionsSchema<Options>;
  setup(options: Options, context: PluginSetupContext): MaybePromise<PluginHooks>;
}

/** Typed helper for plugin modules: `export default definePlugin({ name, setup })`. */
export function definePlugin<Options = undefined>(plugin: Plugin<Options>): Plugin<Options> {
  return plugin;
}
