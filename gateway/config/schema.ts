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
  z
    .string()
    .min(1)
    .transform((use) => ({ use, options: undefined as unknown })),
  z.strictObject({
    use: z.string().min(1).describe("A built-in plugin's name, a plugin file (relative to the config file) or a package"),
    options: z.unknown().optional().describe("The plugin's options, checked by the plugin"),
  }),
]);

// ── pools ──────────────────────────────────────────────────────────────────────────────────────────

const serverOptions = {
  id: z.string().min(1).optional().describe("Name of the server in /status, logs, metrics and the admin API (default host:port)"),
  weight: z.number().int().min(1).max(1000).default(1).describe("Share of requests, 1\u20131000"),
  maxFails: count.default(1).describe("Failures within failTimeout that take the server out for failTimeout (passive health); 0 never takes it out"),
  failTimeout: duration.default(10_000).describe("The window maxFails are counted in, and how long the server then stays out"),
  backup: z.boolean().default(false).describe("Used only when no other server is available"),
  down: z.boolean().default(false).describe("Takes no traffic (maintenance)"),
  maxConns: count.default(0).describe("Requests in flight the server takes at once (0: no limit); the rest wait in the pool's queue"),
  slowStart: duration.default(0).describe("After coming back, the weight ramps from 10% to weight over this time"),
  /** The host is a DNS name standing for one server per A/AAAA record (DNS service discovery). */
  resolve: z.boolean().optional().describe("The host is a DNS name standing for one server per A/AAAA record"),
};

const httpServer = z.strictObject({
  url: z
    .string()
    .refine(
      (text) => {
        try {
          const u = new URL(text);
          return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
        } catch {
          return false;
        }
      },
      { message: 'not an upstream URL: use "http://host:port" or "https://host:port"' },
    )
    .describe("The server: http://host:port or https://host:port"),
  ...serverOptions,
});

const tcpServer = z.strictObject({ address: address.describe("The server: host:port"), ...serverOptions });

/** A server that stands for one server per SRV record of a name (DNS service discovery): target, port, weight. */
const srvServer = z.strictObject({
  srv: z
    .string()
    .regex(/^_[A-Za-z0-9-]+\._(tcp|udp)\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/, {
      message: 'not an SRV name: use "_service._tcp.name"',
    })
    .describe("An SRV name standing for one server per SRV record, like _http._tcp.api.internal"),
  ...serverOptions,
  resolve: z.undefined({ message: "an srv server is always looked up: leave resolve out" }).optional(),
});

const healthTiming = {
  interval: duration.default(2_000).describe("Time between checks of one server (\u00b115% jitter)"),
  timeout: duration.default(1_000).describe("A check not answered by then fails"),
  rise: positiveInt.default(2).describe("Passed checks in a row that bring a server back"),
  fall: positiveInt.default(2).describe("Failed checks in a row that take a server out"),
};

const statusRange = z.string().regex(/^[1-5]\d\d(-[1-5]\d\d)?(,\s*[1-5]\d\d(-[1-5]\d\d)?)*$/, {
  message: 'not a status range: use "200-399" or "200,204"',
});

const httpHealth = z.strictObject({
  // Both go into the check's request head: a space or a control character there would split it.
  path: z
    .string()
    .startsWith("/")
    .regex(/^[^\x00-\x20\x7f]*$/, { message: "not a path: no spaces or control characters" })
    .default("/")
    .describe("What an HTTP check GETs"),
  host: z
    .string()
    .regex(/^[^\x00-\x20\x7f]+$/, { message: "not a host: no spaces or control characters" })
    .optional()
    .describe("Host header of the checks (default: the server's)"),
  expect: statusRange.default("200-399").describe('Statuses that pass: ranges and lists, like "200-299,304"'),
  ...healthTiming,
});

const tcpHealth = z.strictObject(healthTiming);

const sticky = z.strictObject({
  cookie: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: "not a cookie name" })
    .default("SLUICE")
    .describe("Name of the cookie naming the server"),
  key: z.string().min(16).optional().describe("Secret the cookie is signed with (16+ characters); give every instance the same one. Default: random at start"),
  maxAge: duration.nullable().default(null).describe("Lifetime of the cookie; null: a session cookie"),
  // A cookie-av may hold no control character and no ";" (RFC 6265 §4.1.1): it is written into Set-Cookie.
  path: z
    .string()
    .regex(/^\/[\x20-\x3a\x3c-\x7e]*$/, { message: 'not a cookie path: "/" and visible characters other than ";"' })
    .default("/")
    .describe("Path attribute of the cookie"),
  secure: z.boolean().default(false).describe("Secure attribute: the cookie is sent over HTTPS only"),
  httpOnly: z.boolean().default(true).describe("HttpOnly attribute: scripts cannot read the cookie"),
  sameSite: z.enum(["Strict", "Lax", "None"]).default("Lax").describe("SameSite attribute of the cookie"),
});

const balanceFields = {
  balance: z
    .string()
    .default("round-robin")
    .describe(
      "How requests are spread: round-robin, random, least-conn, response-time, capacity, first, ip-hash, uri-hash, consistent-hash, p2c (or an alias)",
    ),
  hash: z
    .string()
    .regex(/^(ip|uri|path|(header|cookie|query):.+)$/, {
      message: "not a hash key: use ip, uri, path, header:NAME, cookie:NAME or query:NAME",
    })
    .default("ip")
    .describe("What consistent-hash hashes: ip, uri, path, header:NAME, cookie:NAME or query:NAME"),
};

/** Requests waiting when every server is at maxConns: at most `max`, each for at most `timeout` (then 503). */
const queue = z
  .strictObject({
    max: count.default(100).describe("Requests waiting at most"),
    timeout: duration.default(5_000).describe("How long each may wait, then 503"),
  })
  .default({ max: 100, timeout: 5_000 })
  .describe("Requests waiting when every server is at maxConns");

/** TLS to a pool's https:// servers: the files are read and checked by certificates.ts, relative to the config file. */
const upstreamTls = z
  .strictObject({
    ca: z.string().min(1).optional().describe("PEM file of the CA certificates that vouch for the servers (default: the runtime's trusted roots)"),
    serverName: z
      .string()
      .regex(/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/, { message: "not a server name: a DNS name like web.internal" })
      .refine((name) => isIP(name) === 0, {
        message: "an IP address is no server name (SNI carries names only): leave serverName out to check the server's address",
      })
      .optional()
      .describe("Name sent as SNI and checked against the server's certificate (default: the URL's host; no SNI for an IP address)"),
    insecureSkipVerify: z.boolean().default(false).describe("Accept any certificate from the servers (testing only; logged as a warning)"),
    cert: z.string().min(1).optional().describe("PEM file of a client certificate (chain) presented to servers that ask (mutual TLS)"),
    key: z.string().min(1).optional().describe("PEM file of the client certificate's private key"),
  })
  .superRefine((t, ctx) => {
    if ((t.cert === undefined) !== (t.key === undefined)) {
      ctx.addIssue({ code: "custom", path: [t.cert === undefined ? "cert" : "key"], message: "a client certificate needs both cert and key" });
    }
  });
export type UpstreamTlsConfig = z.output<typeof upstreamTls>;

const httpPool = z.strictObject({
  mode: z.literal("http").default("http").describe("http (default) or tcp"),
  ...balanceFields,
  servers: z
    .array(z.union([httpServer, srvServer]))
    .min(1)
    .describe("The upstream servers"),
  health: httpHealth.optional().describe("Active health checks of every server"),
  sticky: sticky.optional().describe("Sticky sessions: a cookie keeps a client on its server"),
  retries: count.default(1).describe("Connection failures of idempotent requests retry on another server this many times"),
  preserveHost: z.boolean().default(true).describe("false: send the server's own host as Host"),
  timeouts: z
    .strictObject({
      connect: duration.default(3_000).describe("Time to connect to a server"),
      response: duration.default(60_000).describe("Time for a server's response headers to arrive"),
    })
    .default({ connect: 3_000, response: 60_000 })
    .describe("Time limits of the exchange with a server"),
  /** How fast response-time balancing forgets a latency measurement (the decay's time constant). */
  latencyDecay: duration.default(10_000).describe("How fast response-time balancing forgets a latency measurement"),
  cache: z
    .strictObject({ maxBytes: size.default(64 * 1024 * 1024) })
    .optional()
    .describe("Response caching: not supported in this version (refused)"),
  queue,
  tls: upstreamTls.optional().describe("TLS to the pool's https:// servers: CA, server name (SNI), client certificate"),
});

const tcpPool = z.strictObject({
  mode: z.literal("tcp").describe("http (default) or tcp"),
  ...balanceFields,
  servers: z
    .array(z.union([tcpServer, srvServer]))
    .min(1)
    .describe("The upstream servers"),
  health: tcpHealth.optional().describe("Active health checks (TCP connects) of every server"),
  queue,
});

const pool = z.discriminatedUnion("mode", [tcpPool, httpPool]);

/** A name server to ask: an IP address, with a port or not (53). */
const nameServer = z
  .string()
  .refine(
    (text) => isIP(text) !== 0 || (/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(text) && Number(text.slice(text.lastIndexOf(":") + 1)) <= 65535),
    {
      message: 'not a name server: use an IP address, "IP:port" or "[IPv6]:port"',
    },
  );

/** Where the names of servers with `resolve` are looked up, and how often (DNS service discovery). */
const resolver = z
  .strictObject({
    /** Name servers to ask; the system's resolver configuration when absent. */
    servers: z.array(nameServer).min(1).optional().describe('Name servers to ask: "IP", "IP:port" or "[IPv6]:port" (default: the system\'s)'),
    /** Look names up this often; when absent, when the records' TTL runs out (within minTtl–maxTtl). */
    interval: duration.optional().describe("Look names up this often (default: when the records' TTL runs out)"),
    minTtl: duration.default(1_000).describe("Shortest time between lookups of a name"),
    maxTtl: duration.default(300_000).describe("Longest time between lookups of a name"),
    /** A lookup that takes longer failed (the last good addresses stay). */
    timeout: duration.default(2_000).describe("A lookup without an answer by then failed (the last good addresses stay)"),
  })
  .refine((r) => r.minTtl <= r.maxTtl, { message: "minTtl is above maxTtl", path: ["minTtl"] });
export type ResolverConfig = z.output<typeof resolver>;
export const RESOLVER_DEFAULTS: ResolverConfig = { minTtl: 1_000, maxTtl: 300_000, timeout: 2_000 };

// ── routes ─────────────────────────────────────────────────────────────────────────────────────────

const valueMatch = z.record(z.string(), oneOrMany(z.string()));

export const BROWSER_CLASSES = ["mobile", "tablet", "desktop", "bot"] as const;
export const BROWSER_FAMILIES = ["chrome", "firefox", "safari", "edge", "opera", "samsung", "ie"] as const;

const match = z.strictObject({
  host: oneOrMany(z.string().min(1)).optional().describe('Host header without its port, case-insensitive; "*.example.com" for any subdomain'),
  path: oneOrMany(z.string().min(1)).optional().describe('"/exact", "/prefix/*", "*.css", "/users/:id", or "~REGEX"'),
  methods: oneOrMany(z.string().regex(/^[A-Za-z]+$/, { message: "not an HTTP method" }))
    .optional()
    .describe('Request methods, like ["GET", "HEAD"]'),
  headers: valueMatch.optional().describe('Header name \u2192 exact value or "~REGEX"; an absent header never matches'),
  query: valueMatch.optional().describe('Query parameter \u2192 value or "~REGEX"'),
  cookies: valueMatch.optional().describe('Cookie name \u2192 value or "~REGEX"'),
  browser: oneOrMany(z.enum([...BROWSER_CLASSES, ...BROWSER_FAMILIES]))
    .optional()
    .describe("Browser classes (mobile, tablet, desktop, bot) or families (chrome, firefox, safari\u2026)"),
});

const redirect = z.strictObject({
  to: z.string().min(1).describe("Where to: a URL or a path"),
  status: z
    .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)])
    .default(302)
    .describe("Status of the redirect: 301, 302, 303, 307 or 308"),
});

const staticFiles = z.strictObject({
  root: z.string().min(1).describe("Directory of the files, relative to the config file's"),
  maxAge: duration.optional().describe("Cache-Control max-age of the files"),
  index: z.string().default("index.html").describe("File served for a directory"),
});

const route = z
  .strictObject({
    name: z.string().min(1).optional().describe("Name of the route in /status, metrics and logs"),
    match: match.optional().describe("What a request must have for this route; every field must hold. None: every request"),
    pool: z.string().min(1).optional().describe("Proxy to this pool (one of pool, static or redirect)"),
    static: staticFiles.optional().describe("Serve files from a directory (one of pool, static or redirect)"),
    redirect: redirect.optional().describe("Answer with a redirect (one of pool, static or redirect)"),
    stripPrefix: z.string().startsWith("/").optional().describe("Path prefix removed before proxying"),
    rewrite: z
      .strictObject({
        path: z
          .string()
          .regex(/^~.+\s->\s.*$/, { message: 'not a rewrite: use "~REGEX -> /replacement/$1"' })
          .describe('"~REGEX -> /replacement/$1"'),
      })
      .optional()
      .describe("Rewrite the path with a regular expression before proxying"),
    preserveHost: z.boolean().optional().describe("Overrides the pool's preserveHost for this route"),
    plugins: z.array(pluginRefSchema).default([]).describe("Plugins of this route: a name, a file or a package, or { use, options }"),
  })
  .superRefine((r, ctx) => {
    const actions = (["pool", "static", "redirect"] as const).filter((k) => r[k] !== undefined);
    if (actions.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          actions.length === 0
            ? "a route needs one of pool, static or redirect"
            : `a route takes only one of pool, static or redirect (has ${actions.join(", ")})`,
      });
    }
  });

// ── L4 listeners ───────────────────────────────────────────────────────────────────────────────────

const tcpListener = z
  .strictObject({
    listen: address.describe('Address to listen on: "host:port" or ":port"'),
    pool: z.string().min(1).optional().describe("Forward connections to this tcp pool (or use sni)"),
    sni: z.record(z.string(), z.string()).optional().describe('TLS server name (or *.pattern) \u2192 tcp pool, read from the ClientHello; "*" for the rest'),
    proxyProtocol: z.enum(["v1", "v2"]).optional().describe("Send the PROXY protocol header to servers"),
    acceptProxy: z.boolean().default(false).describe("Read a PROXY protocol header from clients"),
    idleTimeout: duration.default(600_000).describe("A connection with no traffic this long is closed"),
    connectTimeout: duration.default(3_000).describe("Time to connect to a server"),
    maxConns: count.default(0).describe("Connections held at once (0: no limit)"),
  })
  .refine((l) => (l.pool === undefined) !== (l.sni === undefined), { message: "a tcp listener needs one of pool or sni" });

const udpListener = z.strictObject({
  listen: address.describe('Address to listen on: "host:port" or ":port"'),
  pool: z.string().min(1).describe("The tcp pool datagrams go to"),
  idleTimeout: duration.default(30_000).describe("A flow with no datagram this long is forgotten"),
});

// ── the whole file ─────────────────────────────────────────────────────────────────────────────────

/** An address range: "10.0.0.0/8", "fd00::/8", or one address. */
const addressRange = z.string().refine((text) => parseCidr(text) !== undefined, {
  message: 'not an address or CIDR: use "10.0.0.0/8", "192.0.2.7" or "fd00::/8"',
});

const admin = z.strictObject({
  listen: address.default("127.0.0.1:9901").describe("Address of the admin listener"),
  token: z.string().min(1).optional().describe("Bearer token of the admin API; required when listen is not a loopback address"),
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
  maxBodySize: size.default(LIMIT_DEFAULTS.maxBodySize).describe("Request bodies above it get 413"),
  maxHeaderSize: size.default(LIMIT_DEFAULTS.maxHeaderSize).describe("Request header sections above it get 431"),
  maxUriLength: positiveInt.default(LIMIT_DEFAULTS.maxUriLength).describe("Request targets longer than this get 414"),
  /** Header fields a request may have (431 above). */
  maxHeaderCount: positiveInt.default(LIMIT_DEFAULTS.maxHeaderCount).describe("Header fields a request may have (431 above)"),
  /** Largest response head an upstream may send, status line and header fields (502 and the connection closed above). */
  maxResponseHeaderSize: size
    .refine((bytes) => bytes >= 1024, { message: "must be at least 1kb" })
    .default(LIMIT_DEFAULTS.maxResponseHeaderSize)
    .describe("Largest response head an upstream may send (502 above)"),
  /** How long a client may take to send a request head (slowloris): 408 and close after it. */
  headerTimeout: duration.default(LIMIT_DEFAULTS.headerTimeout).describe("Time a client may take to send a request head: 408 and closed after it"),
  /** How long a keep-alive connection may sit idle between requests. */
  idleTimeout: duration.default(LIMIT_DEFAULTS.idleTimeout).describe("A keep-alive connection idle this long between requests is closed"),
  /** How long a request body may take to deliver its next 64 KiB (or all of itself): 408 and close after it. */
  bodyTimeout: duration.default(LIMIT_DEFAULTS.bodyTimeout).describe("Time a request body may take for each next 64 KiB: 408 and closed after it"),
  /** How long a client may leave its answer unread (nothing sent in that time): the connection is cut. */
  sendTimeout: duration.default(LIMIT_DEFAULTS.sendTimeout).describe("A client that takes nothing of its answer this long is cut"),
  /** Connections each HTTP listener holds at once (0: no limit); more are answered 503 and closed. */
  maxConnections: count.default(LIMIT_DEFAULTS.maxConnections).describe("Connections each HTTP listener holds at once (0: no limit); more get 503"),
});

/** One certificate of a TLS listener: PEM files, relative to the config file's directory. */
const listenerCertificate = z.strictObject({
  cert: z.string().min(1).describe("PEM certificate file (the chain), relative to the config file"),
  key: z.string().min(1).describe("PEM private key file, relative to the config file"),
});

/**
 * Strict-Transport-Security on every answer of a TLS listener (RFC 6797): `true` for the defaults. The preload
 * list (hstspreload.org) takes only a year or more with includeSubDomains: `preload` without them is refused.
 */
const HSTS_DEFAULTS = { maxAge: 365 * 86_400_000, includeSubDomains: false, preload: false };
const hsts = z.union([
  z.boolean().transform((on) => (on ? HSTS_DEFAULTS : undefined)),
  z
    .strictObject({
      maxAge: duration.default(HSTS_DEFAULTS.maxAge).describe("max-age of Strict-Transport-Security (default a year)"),
      includeSubDomains: z.boolean().default(HSTS_DEFAULTS.includeSubDomains).describe("Every subdomain is HTTPS-only too"),
      preload: z.boolean().default(HSTS_DEFAULTS.preload).describe("Ask to be on browsers' preload list (needs a year and includeSubDomains)"),
    })
    .superRefine((h, ctx) => {
      if (h.preload && (h.maxAge < 365 * 86_400_000 || !h.includeSubDomains)) {
        ctx.addIssue({ code: "custom", message: 'preload needs maxAge of "365d" or more and includeSubDomains: true (the preload list refuses less)' });
      }
    }),
]);
export type HstsSettings = z.output<typeof hsts>;

/** A TLS listener's settings: its certificates, the first one served to clients that name no server (SNI). */
const listenerTls = z.strictObject({
  certificates: z.array(listenerCertificate).min(1).describe("Certificates; a client's server name (SNI) picks one, the first for clients naming none"),
  hsts: hsts.optional().describe("Strict-Transport-Security on every answer: true for the defaults, or { maxAge, includeSubDomains, preload }"),
});

/**
 * A plain listener that answers every request with a redirect to the same URL over HTTPS: `"https"`, or the
 * port of the HTTPS URLs (the first TLS listener's by default) and the status.
 */
const listenerRedirect = z.union([
  z.literal("https").transform(() => ({ to: "https" as const, port: undefined, status: 308 as const })),
  z.strictObject({
    to: z.literal("https").default("https").describe("Where to: https"),
    port: z.number().int().min(1).max(65535).optional().describe("Port of the HTTPS URLs (default: the first TLS listener's)"),
    status: z
      .union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)])
      .default(308)
      .describe("Status of the redirect: 301, 302, 307 or 308"),
  }),
]);

/** An HTTP listener: its address, or an object with settings of its own (`maxConnections` over limits'). */
const httpListener = z.union([
  address,
  z
    .strictObject({
      address: address.describe('Address to listen on: "host:port" or ":port"'),
      maxConnections: count.optional().describe("Connections this listener holds at once, over limits.maxConnections"),
      /** TLS termination: the listener speaks HTTPS with these certificates (checked and read by certificates.ts). */
      tls: listenerTls.optional().describe("HTTPS: the listener terminates TLS with these certificates"),
      /** The listener only redirects to HTTPS (http-listeners.ts builds the answer). */
      redirect: listenerRedirect.optional().describe('Answer every request with a redirect to HTTPS: "https", or { port, status }'),
    })
    .superRefine((l, ctx) => {
      if (l.tls !== undefined && l.redirect !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["redirect"],
          message: "a TLS listener cannot redirect to HTTPS: it is HTTPS already (put redirect on a plain listener)",
        });
      }
    }),
]);

// How a request path is read before routing (gateway/http/path-normalization.ts).
const PATH_NORMALIZATION_DEFAULTS = { mergeSlashes: true, encodedSlashes: "refuse", forward: "normalized" } as const;
const pathNormalization = z.strictObject({
  /** `//` read as `/`, as nginx's merge_slashes. */
  mergeSlashes: z.boolean().default(PATH_NORMALIZATION_DEFAULTS.mergeSlashes).describe('"//" read as "/"'),
  /** `%2F` and `%5C`: a 400, or passed undecoded inside one segment. */
  encodedSlashes: z
    .enum(["refuse", "keep"])
    .default(PATH_NORMALIZATION_DEFAULTS.encodedSlashes)
    .describe("%2F and %5C in a path: refused with 400, or kept undecoded"),
  /** What the upstream receives for a route that changes no path: the normalised path, or the client's own target. */
  forward: z
    .enum(["normalized", "original"])
    .default(PATH_NORMALIZATION_DEFAULTS.forward)
    .describe("What the upstream receives: the normalised path, or the client's own"),
});

// ── the access log ───────────────────────────────────────────────────────────────────────────────

/** `true` (the default) is JSON lines on stdout, `false` none; the object chooses the format and a file. */
const accessLogSettings = z.strictObject({
  format: z.enum(["json", "combined"]).default("json").describe("json lines, or the combined log format"),
  /** A file to append to (created if missing; relative to the config file's directory), reopened on SIGUSR1. */
  path: z.string().min(1).optional().describe("File to append to (relative to the config file's directory), reopened on SIGUSR1; default stdout"),
  /** Lines waiting to be written, at most: beyond it, lines are dropped and counted instead of held. */
  buffer: size
    .refine((bytes) => bytes >= 1024, { message: 'must be at least "1kb"' })
    .default(4 * 1024 * 1024)
    .describe("Lines waiting to be written, at most; beyond it lines are dropped and counted"),
});
export type AccessLogSettings = z.output<typeof accessLogSettings>;

export const configSchema = z.strictObject({
  /** Where editors find the JSON Schema of this file (`sluice schema`); the gateway ignores it. */
  $schema: z.string().optional().describe("The JSON Schema of this file, for editors; ignored by the gateway"),
  listen: oneOrMany(httpListener)
    .default(":8080")
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .describe('HTTP listen address(es): "host:port", ":port", or { address, maxConnections, tls, redirect }'),
  admin: z
    .union([z.literal(false), admin])
    .default({ listen: "127.0.0.1:9901" })
    .describe("The admin listener (/status, /metrics, admin API); false turns it off"),
  workers: z
    .union([positiveInt, z.literal("auto")])
    .default(1)
    .describe('Processes sharing the listen ports, or "auto" (one per core)'),
  limits: limits.default(LIMIT_DEFAULTS).describe("Limits on what clients send and how long they take"),
  /** Clients whose X-Forwarded-For is kept and appended to; anyone else's is replaced. */
  trustedProxies: z.array(addressRange).default(["127.0.0.1/32", "::1/128"]).describe("Addresses and CIDR ranges whose X-Forwarded-For is kept"),
  pathNormalization: pathNormalization.default(PATH_NORMALIZATION_DEFAULTS).describe("How a request path is read before routing"),
  shutdownTimeout: duration.default(10_000).describe("How long SIGTERM waits for in-flight requests"),
  accessLog: z
    .union([z.boolean(), accessLogSettings])
    .default(true)
    .describe("One line per request: true (JSON on stdout), false, or { format, path, buffer }"),
  pools: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]+$/, { message: "not a pool name: use letters, digits, _ . -" }), pool)
    .default({})
    .describe("Named pools of upstream servers"),
  /** Absent: the system resolver, with the defaults below (RESOLVER_DEFAULTS). */
  resolver: resolver.optional().describe("Where and how often names of servers with resolve: true are looked up"),
  routes: z.array(route).default([]).describe("The routing table, tried in order: the first route whose match holds wins"),
  tcp: z.array(tcpListener).default([]).describe("TCP listeners forwarding connections to tcp pools"),
  udp: z.array(udpListener).default([]).describe("UDP listeners forwarding datagrams to tcp pools"),
  plugins: z.array(pluginRefSchema).default([]).describe("Plugins for every request: a name, a file or a package, or { use, options }"),
  /** Tracing exported over OTLP/HTTP (gateway/observability/tracing*.ts); what is left out comes from OTEL_* variables. */
  telemetry: z
    .strictObject({
      otlp: z
        .string()
        .url()
        .refine((url) => /^https?:/i.test(url), { message: "not an http:// or https:// URL" })
        .optional()
        .describe("The OTLP/HTTP collector, like http://127.0.0.1:4318 (/v1/traces appended)"),
      serviceName: z.string().min(1).optional().describe("service.name of the traces"),
      sampleRatio: z.number().min(0).max(1).optional().describe("Share of new traces kept, 0–1"),
      headers: z.record(z.string().min(1), z.string()).optional().describe("Headers sent with every export (an API key)"),
      timeout: duration.optional().describe("Time for one export"),
      compression: z.enum(["gzip", "none"]).optional().describe("Compression of the exports"),
      maxQueueSize: positiveInt.optional().describe("Spans held waiting at most (more are dropped)"),
      maxExportBatchSize: positiveInt.optional().describe("Spans per export at most"),
      scheduledDelay: duration.optional().describe("Time between exports"),
    })
    .optional()
    .describe("Tracing exported over OTLP/HTTP; what is left out comes from OTEL_* variables"),
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
