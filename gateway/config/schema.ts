import { isIP } from "node:net";
// The one schema of a Sluice config, for TypeScript and JSON configs alike.
// Parsing fills every default once; the rest of the gateway reads `Config` (the output type) and never
// has to ask "was this set?". Unknown keys are rejected everywhere so that a typo is an error, not a no-op.
import { z } from "zod";
import { durationProblem, parseDuration } from "./duration.ts";
import { parseAddress } from "./address.ts";
import { parseSize } from "./size.ts";
import { parseCidr } from "./cidr.ts";

/** A duration as milliseconds: 250, "500ms", "2s", "1m30s", "1h". */
const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: durationProblem(value) });
    return z.NEVER;
  }
  return ms;
});

/** A size as bytes: 1048576, "16kb", "8mb". */
const size = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === null) {
    ctx.addIssue({ code: "custom", message: 'not a size: use bytes or a number with kb, mb or gb, like "8mb"' });
    return z.NEVER;
  }
  return bytes;
});

const address = z.string().refine((text) => parseAddress(text) !== null, {
  message: 'not an address: use "host:port" or ":port"',
});

const positiveInt = z.number().int().min(1);
const count = z.number().int().min(0);

/** "any of": a single value or an array of them. */
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);

// ── plugins ────────────────────────────────────────────────────────────────────────────────────────

/** A plugin by built-in name, file path or package name, with its options (checked by the plugin). */
export const pluginRefSchema = z.union([
  z.string().min(1).transform((use) => ({ use, options: undefined as unknown })),
  z.strictObject({ use: z.string().min(1), options: z.unknown().optional() }),
]);

// ── pools ──────────────────────────────────────────────────────────────────────────────────────────

const serverOptions = {
  id: z.string().min(1).optional(),
  weight: z.number().int().min(1).max(1000).default(1),
  maxFails: count.default(1),
  failTimeout: duration.default(10_000),
  backup: z.boolean().default(false),
  down: z.boolean().default(false),
  maxConns: count.default(0),
  slowStart: duration.default(0),
  /** The host is a DNS name standing for one server per A/AAAA record (DNS service discovery). */
  resolve: z.boolean().optional(),
};

const httpServer = z.strictObject({
  url: z.string().refine((text) => {
    try {
      const u = new URL(text);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch {
      return false;
    }
  }, { message: 'not an upstream URL: use "http://host:port" or "https://host:port"' }),
  ...serverOptions,
});

const tcpServer = z.strictObject({ address, ...serverOptions });

/** A server that stands for one server per SRV record of a name (DNS service discovery): target, port, weight. */
const srvServer = z.strictObject({
  srv: z.string().regex(/^_[A-Za-z0-9-]+\._(tcp|udp)\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/, {
    message: 'not an SRV name: use "_service._tcp.name"',
  }),
  ...serverOptions,
  resolve: z.undefined({ message: "an srv server is always looked up: leave resolve out" }).optional(),
});

const healthTiming = {
  interval: duration.default(2_000),
  timeout: duration.default(1_000),
  rise: positiveInt.default(2),
  fall: positiveInt.default(2),
};

const statusRange = z.string().regex(/^[1-5]\d\d(-[1-5]\d\d)?(,\s*[1-5]\d\d(-[1-5]\d\d)?)*$/, {
  message: 'not a status range: use "200-399" or "200,204"',
});

const httpHealth = z.strictObject({
  // Both go into the check's request head: a space or a control character there would split it.
  path: z.string().startsWith("/").regex(/^[^\x00-\x20\x7f]*$/, { message: "not a path: no spaces or control characters" }).default("/"),
  host: z.string().regex(/^[^\x00-\x20\x7f]+$/, { message: "not a host: no spaces or control characters" }).optional(),
  expect: statusRange.default("200-399"),
  ...healthTiming,
});

const tcpHealth = z.strictObject(healthTiming);

const sticky = z.strictObject({
  cookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: "not a cookie name" }).default("SLUICE"),
  key: z.string().min(16).optional(),
  maxAge: duration.nullable().default(null),
  // A cookie-av may hold no control character and no ";" (RFC 6265 §4.1.1): it is written into Set-Cookie.
  path: z.string().regex(/^\/[\x20-\x3a\x3c-\x7e]*$/, { message: 'not a cookie path: "/" and visible characters other than ";"' }).default("/"),
  secure: z.boolean().default(false),
  httpOnly: z.boolean().default(true),
  sameSite: z.enum(["Strict", "Lax", "None"]).default("Lax"),
});

const balanceFields = {
  balance: z.string().default("round-robin"),
  hash: z.string().regex(/^(ip|uri|path|(header|cookie|query):.+)$/, {
    message: "not a hash key: use ip, uri, path, header:NAME, cookie:NAME or query:NAME",
  }).default("ip"),
};

/** Requests waiting when every server is at maxConns: at most `max`, each for at most `timeout` (then 503). */
const queue = z.strictObject({ max: count.default(100), timeout: duration.default(5_000) }).default({ max: 100, timeout: 5_000 });

const httpPool = z.strictObject({
  mode: z.literal("http").default("http"),
  ...balanceFields,
  servers: z.array(z.union([httpServer, srvServer])).min(1),
  health: httpHealth.optional(),
  sticky: sticky.optional(),
  retries: count.default(1),
  preserveHost: z.boolean().default(true),
  timeouts: z.strictObject({ connect: duration.default(3_000), response: duration.default(60_000) }).default({ connect: 3_000, response: 60_000 }),
  /** How fast response-time balancing forgets a latency measurement (the decay's time constant). */
  latencyDecay: duration.default(10_000),
  cache: z.strictObject({ maxBytes: size.default(64 * 1024 * 1024) }).optional(),
  queue,
});

const tcpPool = z.strictObject({
  mode: z.literal("tcp"),
  ...balanceFields,
  servers: z.array(z.union([tcpServer, srvServer])).min(1),
  health: tcpHealth.optional(),
  queue,
});

const pool = z.discriminatedUnion("mode", [tcpPool, httpPool]);

/** A name server to ask: an IP address, with a port or not (53). */
const nameServer = z.string().refine((text) => isIP(text) !== 0 || /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(text) && Number(text.slice(text.lastIndexOf(":") + 1)) <= 65535, {
  message: 'not a name server: use an IP address, "IP:port" or "[IPv6]:port"',
});

/** Where the names of servers with `resolve` are looked up, and how often (DNS service discovery). */
const resolver = z.strictObject({
  /** Name servers to ask; the system's resolver configuration when absent. */
  servers: z.array(nameServer).min(1).optional(),
  /** Look names up this often; when absent, when the records' TTL runs out (within minTtl–maxTtl). */
  interval: duration.optional(),
  minTtl: duration.default(1_000),
  maxTtl: duration.default(300_000),
  /** A lookup that takes longer failed (the last good addresses stay). */
  timeout: duration.default(2_000),
}).refine((r) => r.minTtl <= r.maxTtl, { message: "minTtl is above maxTtl", path: ["minTtl"] });
export type ResolverConfig = z.output<typeof resolver>;
export const RESOLVER_DEFAULTS: ResolverConfig = { minTtl: 1_000, maxTtl: 300_000, timeout: 2_000 };

// ── routes ─────────────────────────────────────────────────────────────────────────────────────────

const valueMatch = z.record(z.string(), oneOrMany(z.string()));

export const BROWSER_CLASSES = ["mobile", "tablet", "desktop", "bot"] as const;
export const BROWSER_FAMILIES = ["chrome", "firefox", "safari", "edge", "opera", "samsung", "ie"] as const;

const match = z.strictObject({
  host: oneOrMany(z.string().min(1)).optional(),
  path: oneOrMany(z.string().min(1)).optional(),
  methods: oneOrMany(z.string().regex(/^[A-Za-z]+$/, { message: "not an HTTP method" })).optional(),
  headers: valueMatch.optional(),
  query: valueMatch.optional(),
  cookies: valueMatch.optional(),
  browser: oneOrMany(z.enum([...BROWSER_CLASSES, ...BROWSER_FAMILIES])).optional(),
});

const redirect = z.strictObject({
  to: z.string().min(1),
  status: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).default(302),
});

const staticFiles = z.strictObject({
  root: z.string().min(1),
  maxAge: duration.optional(),
  index: z.string().default("index.html"),
});

const route = z.strictObject({
  name: z.string().min(1).optional(),
  match: match.optional(),
  pool: z.string().min(1).optional(),
  static: staticFiles.optional(),
  redirect: redirect.optional(),
  stripPrefix: z.string().startsWith("/").optional(),
  rewrite: z.strictObject({
    path: z.string().regex(/^~.+\s->\s.*$/, { message: 'not a rewrite: use "~REGEX -> /replacement/$1"' }),
  }).optional(),
  preserveHost: z.boolean().optional(),
  plugins: z.array(pluginRefSchema).default([]),
}).superRefine((r, ctx) => {
  const actions = (["pool", "static", "redirect"] as const).filter((k) => r[k] !== undefined);
  if (actions.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message: actions.length === 0 ? "a route needs one of pool, static or redirect" : `a route takes only one of pool, static or redirect (has ${actions.join(", ")})`,
    });
  }
});

// ── L4 listeners ───────────────────────────────────────────────────────────────────────────────────

const tcpListener = z.strictObject({
  listen: address,
  pool: z.string().min(1).optional(),
  sni: z.record(z.string(), z.string()).optional(),
  proxyProtocol: z.enum(["v1", "v2"]).optional(),
  acceptProxy: z.boolean().default(false),
  idleTimeout: duration.default(600_000),
  connectTimeout: duration.default(3_000),
  maxConns: count.default(0),
}).refine((l) => (l.pool === undefined) !== (l.sni === undefined), { message: "a tcp listener needs one of pool or sni" });

const udpListener = z.strictObject({
  listen: address,
  pool: z.string().min(1),
  idleTimeout: duration.default(30_000),
});

// ── the whole file ─────────────────────────────────────────────────────────────────────────────────

/** An address range: "10.0.0.0/8", "fd00::/8", or one address. */
const addressRange = z.string().refine((text) => parseCidr(text) !== undefined, {
  message: 'not an address or CIDR: use "10.0.0.0/8", "192.0.2.7" or "fd00::/8"',
});

const admin = z.strictObject({
  listen: address.default("127.0.0.1:9901"),
  token: z.string().min(1).optional(),
});

const LIMIT_DEFAULTS = {
  maxBodySize: 128 * 1024 * 1024,
  maxHeaderSize: 16 * 1024,
  maxUriLength: 8 * 1024,
  maxHeaderCount: 100,
  maxResponseHeaderSize: 64 * 1024,
  headerTimeout: 10_000,
  idleTimeout: 60_000,
  bodyTimeout: 30_000,
  sendTimeout: 60_000,
  maxConnections: 10_000,
};

const limits = z.strictObject({
  maxBodySize: size.default(LIMIT_DEFAULTS.maxBodySize),
  maxHeaderSize: size.default(LIMIT_DEFAULTS.maxHeaderSize),
  maxUriLength: positiveInt.default(LIMIT_DEFAULTS.maxUriLength),
  /** Header fields a request may have (431 above). */
  maxHeaderCount: positiveInt.default(LIMIT_DEFAULTS.maxHeaderCount),
  /** Largest response head an upstream may send, status line and header fields (502 and the connection closed above). */
  maxResponseHeaderSize: size.refine((bytes) => bytes >= 1024, { message: "must be at least 1kb" }).default(LIMIT_DEFAULTS.maxResponseHeaderSize),
  /** How long a client may take to send a request head (slowloris): 408 and close after it. */
  headerTimeout: duration.default(LIMIT_DEFAULTS.headerTimeout),
  /** How long a keep-alive connection may sit idle between requests. */
  idleTimeout: duration.default(LIMIT_DEFAULTS.idleTimeout),
  /** How long a request body may take to deliver its next 64 KiB (or all of itself): 408 and close after it. */
  bodyTimeout: duration.default(LIMIT_DEFAULTS.bodyTimeout),
  /** How long a client may leave its answer unread (nothing sent in that time): the connection is cut. */
  sendTimeout: duration.default(LIMIT_DEFAULTS.sendTimeout),
  /** Connections each HTTP listener holds at once (0: no limit); more are answered 503 and closed. */
  maxConnections: count.default(LIMIT_DEFAULTS.maxConnections),
});

/** One certificate of a TLS listener: PEM files, relative to the config file's directory. */
const listenerCertificate = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
});

/**
 * Strict-Transport-Security on every answer of a TLS listener (RFC 6797): `true` for the defaults. The preload
 * list (hstspreload.org) takes only a year or more with includeSubDomains: `preload` without them is refused.
 */
const HSTS_DEFAULTS = { maxAge: 365 * 86_400_000, includeSubDomains: false, preload: false };
const hsts = z.union([
  z.boolean().transform((on) => (on ? HSTS_DEFAULTS : undefined)),
  z.strictObject({
    maxAge: duration.default(HSTS_DEFAULTS.maxAge),
    includeSubDomains: z.boolean().default(HSTS_DEFAULTS.includeSubDomains),
    preload: z.boolean().default(HSTS_DEFAULTS.preload),
  }).superRefine((h, ctx) => {
    if (h.preload && (h.maxAge < 365 * 86_400_000 || !h.includeSubDomains)) {
      ctx.addIssue({ code: "custom", message: 'preload needs maxAge of "365d" or more and includeSubDomains: true (the preload list refuses less)' });
    }
  }),
]);
export type HstsSettings = z.output<typeof hsts>;

/** A TLS listener's settings: its certificates, the first one served to clients that name no server (SNI). */
const listenerTls = z.strictObject({
  certificates: z.array(listenerCertificate).min(1),
  hsts: hsts.optional(),
});

/**
 * A plain listener that answers every request with a redirect to the same URL over HTTPS: `"https"`, or the
 * port of the HTTPS URLs (the first TLS listener's by default) and the status.
 */
const listenerRedirect = z.union([
  z.literal("https").transform(() => ({ to: "https" as const, port: undefined, status: 308 as const })),
  z.strictObject({
    to: z.literal("https").default("https"),
    port: z.number().int().min(1).max(65535).optional(),
    status: z.union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)]).default(308),
  }),
]);

/** An HTTP listener: its address, or an object with settings of its own (`maxConnections` over limits'). */
const httpListener = z.union([
  address,
  z.strictObject({
    address,
    maxConnections: count.optional(),
    /** TLS termination: the listener speaks HTTPS with these certificates (checked and read by certificates.ts). */
    tls: listenerTls.optional(),
    /** The listener only redirects to HTTPS (http-listeners.ts builds the answer). */
    redirect: listenerRedirect.optional(),
  }).superRefine((l, ctx) => {
    if (l.tls !== undefined && l.redirect !== undefined) {
      ctx.addIssue({ code: "custom", path: ["redirect"], message: "a TLS listener cannot redirect to HTTPS: it is HTTPS already (put redirect on a plain listener)" });
    }
  }),
]);

// How a request path is read before routing (gateway/http/path-normalization.ts).
const PATH_NORMALIZATION_DEFAULTS = { mergeSlashes: true, encodedSlashes: "refuse", forward: "normalized" } as const;
const pathNormalization = z.strictObject({
  /** `//` read as `/`, as nginx's merge_slashes. */
  mergeSlashes: z.boolean().default(PATH_NORMALIZATION_DEFAULTS.mergeSlashes),
  /** `%2F` and `%5C`: a 400, or passed undecoded inside one segment. */
  encodedSlashes: z.enum(["refuse", "keep"]).default(PATH_NORMALIZATION_DEFAULTS.encodedSlashes),
  /** What the upstream receives for a route that changes no path: the normalised path, or the client's own target. */
  forward: z.enum(["normalized", "original"]).default(PATH_NORMALIZATION_DEFAULTS.forward),
});

// ── the access log ───────────────────────────────────────────────────────────────────────────────

/** `true` (the default) is JSON lines on stdout, `false` none; the object chooses the format and a file. */
const accessLogSettings = z.strictObject({
  format: z.enum(["json", "combined"]).default("json"),
  /** A file to append to (created if missing; relative to the config file's directory), reopened on SIGUSR1. */
  path: z.string().min(1).optional(),
  /** Lines waiting to be written, at most: beyond it, lines are dropped and counted instead of held. */
  buffer: size.refine((bytes) => bytes >= 1024, { message: 'must be at least "1kb"' }).default(4 * 1024 * 1024),
});
export type AccessLogSettings = z.output<typeof accessLogSettings>;

export const configSchema = z.strictObject({
  /** Where editors find the JSON Schema of this file (`sluice schema`); the gateway ignores it. */
  $schema: z.string().optional(),
  listen: oneOrMany(httpListener).default(":8080").transform((v) => (Array.isArray(v) ? v : [v])),
  admin: z.union([z.literal(false), admin]).default({ listen: "127.0.0.1:9901" }),
  workers: z.union([positiveInt, z.literal("auto")]).default(1),
  limits: limits.default(LIMIT_DEFAULTS),
  /** Clients whose X-Forwarded-For is kept and appended to; anyone else's is replaced. */
  trustedProxies: z.array(addressRange).default(["127.0.0.1/32", "::1/128"]),
  pathNormalization: pathNormalization.default(PATH_NORMALIZATION_DEFAULTS),
  shutdownTimeout: duration.default(10_000),
  accessLog: z.union([z.boolean(), accessLogSettings]).default(true),
  pools: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, { message: "not a pool name: use letters, digits, _ . -" }), pool).default({}),
  /** Absent: the system resolver, with the defaults below (RESOLVER_DEFAULTS). */
  resolver: resolver.optional(),
  routes: z.array(route).default([]),
  tcp: z.array(tcpListener).default([]),
  udp: z.array(udpListener).default([]),
  plugins: z.array(pluginRefSchema).default([]),
  /** Tracing exported over OTLP/HTTP (gateway/observability/tracing*.ts); what is left out comes from OTEL_* variables. */
  telemetry: z.strictObject({
    otlp: z.string().url().refine((url) => /^https?:/i.test(url), { message: "not an http:// or https:// URL" }).optional(),
    serviceName: z.string().min(1).optional(),
    sampleRatio: z.number().min(0).max(1).optional(),
    headers: z.record(z.string().min(1), z.string()).optional(),
    timeout: duration.optional(),
    compression: z.enum(["gzip", "none"]).optional(),
    maxQueueSize: positiveInt.optional(),
    maxExportBatchSize: positiveInt.optional(),
    scheduledDelay: duration.optional(),
  }).optional(),
});

/** The schemas of every duration and size value: the JSON Schema (json-schema.ts) spells out what their strings accept. */
export { duration as durationSchema, size as sizeSchema };

/** What a config file may contain (durations as strings, defaults left out). */
export type ConfigInput = z.input<typeof configSchema>;
/** A validated config with every default filled in and durations in milliseconds. */
export type Config = z.output<typeof configSchema>;
export type PoolConfig = Config["pools"][string];
export type HttpPoolConfig = Extract<PoolConfig, { mode: "http" }>;
export type TcpPoolConfig = Extract<PoolConfig, { mode: "tcp" }>;
export type HttpServerConfig = HttpPoolConfig["servers"][number];
export type TcpServerConfig = TcpPoolConfig["servers"][number];
export type RouteConfig = Config["routes"][number];
export type MatchConfig = NonNullable<RouteConfig["match"]>;
export type PluginRef = Config["plugins"][number];
export type StickyConfig = NonNullable<HttpPoolConfig["sticky"]>;
export type HttpHealthConfig = NonNullable<HttpPoolConfig["health"]>;
export type TcpListenerConfig = Config["tcp"][number];
export type UdpListenerConfig = Config["udp"][number];
export type LimitsConfig = Config["limits"];
export type HttpListenerConfig = Config["listen"][number];
