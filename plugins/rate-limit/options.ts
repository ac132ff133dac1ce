// The options of the rate-limit plugin, checked once at load: every problem comes back as a config line
// (`plugins[0].options.window: ...`), and the rest of the plugin reads milliseconds and parsed keys only.
import { z } from "zod";
import { duration } from "../shared/option-types.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** What identifies a client: the one thing its requests are counted under. */
export type KeySource = { kind: "ip" } | { kind: "route" } | { kind: "header"; name: string } | { kind: "claim"; name: string };

const key = z.string().transform((text, ctx): KeySource => {
  if (text === "ip" || text === "route") return { kind: text };
  const colon = text.indexOf(":");
  const kind = text.slice(0, colon);
  const name = text.slice(colon + 1);
  if (colon > 0 && kind === "header" && TOKEN.test(name)) return { kind, name: name.toLowerCase() };
  if (colon > 0 && kind === "claim" && name !== "") return { kind, name };
  ctx.addIssue({ code: "custom", message: 'not a key: use "ip", "route", "header:NAME" or "claim:NAME"' });
  return z.NEVER;
});

const redisUrl = z.string().refine(
  (text) => {
    try {
      const url = new URL(text);
      return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "";
    } catch {
      return false;
    }
  },
  { message: 'not a Redis URL: use "redis://host:port" (or rediss:// for TLS, redis://:password@host:port/db)' },
);

const store = z
  .preprocess(
    (value) => (value === "local" ? {} : value),
    z.strictObject(
      {
        /** Counts kept in Redis, shared by every gateway process that names the same server. */
        redis: redisUrl.optional(),
        /** The longest a request waits for Redis; past it, `onStoreError` decides. */
        timeout: duration.refine((ms) => ms >= 1 && ms <= 10_000, { message: "must be between 1ms and 10s" }).optional(),
        /** Prepended to every Redis key, so that several deployments can share one Redis. */
        prefix: z.string().max(200).optional(),
        /** The local store's bound: the clients it remembers at once (least recently seen are forgotten first). */
        maxKeys: z.number().int().min(1).max(10_000_000).optional(),
      },
      { error: 'not a store: use "local", { "maxKeys": N } or { "redis": "redis://host:port" }' },
    ),
  )
  .superRefine((s, ctx) => {
    if (s.redis === undefined) {
      for (const name of ["timeout", "prefix"] as const) {
        if (s[name] !== undefined) ctx.addIssue({ code: "custom", path: [name], message: 'only with "redis"' });
      }
    } else if (s.maxKeys !== undefined) {
      ctx.addIssue({ code: "custom", path: ["maxKeys"], message: 'only for the local store (without "redis"): Redis expires its own keys' });
    }
  });

export const optionsSchema = z
  .strictObject({
    /** Requests allowed per `window` (the token bucket's refill rate). */
    limit: z.number().int().min(1).max(1_000_000_000),
    window: duration.refine((ms) => ms >= 1000 && ms % 1000 === 0, { message: 'must be a whole number of seconds, at least "1s"' }).default(60_000),
    key: key.prefault("ip"),
    algorithm: z.enum(["sliding-window", "token-bucket"]).default("sliding-window"),
    /** The token bucket's size: how many requests may come at once after a quiet spell (default: `limit`). */
    burst: z.number().int().min(1).max(1_000_000_000).optional(),
    store: store.default({}),
    /** When the store cannot answer in time: let the request through ("allow") or refuse it with 503 ("deny"). */
    onStoreError: z.enum(["allow", "deny"]).default("allow"),
    /** The RateLimit-Policy and RateLimit response headers (Retry-After is always sent with a 429). */
    headers: z.boolean().default(true),
    /** The policy's name in those headers: give each of several limits on one route its own. */
    policy: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: "not a policy name: 1 to 64 letters, digits, _ . : -" })
      .default("default"),
    /** IPv6 clients are counted by this many leading bits of their address (one /64 is one client by default). */
    ipv6Prefix: z.number().int().min(1).max(128).default(64),
  })
  .superRefine((o, ctx) => {
    if (o.burst !== undefined && o.algorithm !== "token-bucket") {
      ctx.addIssue({ code: "custom", path: ["burst"], message: 'only with "algorithm": "token-bucket"' });
    }
  });

export type RateLimitOptions = z.output<typeof optionsSchema>;
