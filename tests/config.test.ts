// Config: value parsers, defaults, the problem lines users see, reference checks and file loading.
import { describe, expect, test, afterAll } from "bun:test";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDuration } from "../gateway/config/duration.ts";
import { parseSize } from "../gateway/config/size.ts";
import { isLoopback, parseAddress } from "../gateway/config/address.ts";
import { configSchema, type ConfigInput } from "../gateway/config/schema.ts";
import { ConfigError, formatPath, formatValue, parseWithProblems } from "../gateway/config/errors.ts";
import { checkReferences, defaultServerId, parseRewrite } from "../gateway/config/references.ts";
import { findDefaultConfig, loadConfig } from "../gateway/config/load.ts";
import { checkConfig } from "../gateway/config/check.ts";
import { defineConfig } from "../gateway/config/define.ts";

const BALANCERS = ["round-robin", "random", "least-conn", "ip-hash", "consistent-hash"];

/** Schema problem lines for a raw config ([] when it parses). */
function schemaLines(input: unknown): string[] {
  const r = parseWithProblems(configSchema, input);
  return r.ok ? [] : r.problems;
}

/** Reference problem lines for a config that must pass the schema. */
function refLines(input: ConfigInput): string[] {
  const r = parseWithProblems(configSchema, input);
  if (!r.ok) throw new Error(`schema failed: ${r.problems.join("; ")}`);
  return checkReferences(r.value, BALANCERS).lines();
}

const app = { servers: [{ url: "http://127.0.0.1:9001" }] };
const redis = { mode: "tcp" as const, servers: [{ address: "127.0.0.1:6379" }] };

describe("value parsers", () => {
  test.each([
    ["500ms", 500],
    ["2s", 2000],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["1.5s", 1500],
    [" 3s ", 3000],
    [250, 250],
    [0, 0],
    ["2", null],
    ["2 parsecs", null],
    ["-1s", null],
    [-5, null],
    [Infinity, null],
    ["", null],
    [true, null],
    [null, null],
  ] as [unknown, number | null][])("duration %p → %p", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test.each([
    [1024, 1024],
    ["512", 512],
    ["16kb", 16_384],
    ["16k", 16_384],
    ["8mb", 8 * 1024 ** 2],
    ["8MB", 8 * 1024 ** 2],
    ["1gb", 1024 ** 3],
    ["1.5kb", 1536],
    ["lots", null],
    [-1, null],
    [1.5, null],
    ["8 tb", null],
    [{}, null],
  ] as [unknown, number | null][])("size %p → %p", (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  test.each([
    ["127.0.0.1:8080", { hostname: "127.0.0.1", port: 8080 }],
    [":8080", { hostname: "0.0.0.0", port: 8080 }],
    ["localhost:0", { hostname: "localhost", port: 0 }],
    ["[::1]:9901", { hostname: "::1", port: 9901 }],
    ["8080", null],
    ["host:", null],
    ["host:70000", null],
    ["a b:80", null],
  ] as [string, unknown][])("address %p", (input, parsed) => {
    expect(parseAddress(input)).toEqual(parsed as never);
  });

  test.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["localhost", true],
    ["::1", true],
    ["0.0.0.0", false],
    ["10.0.0.1", false],
  ] as const)("isLoopback(%p) is %p", (host, loop) => expect(isLoopback(host)).toBe(loop));

  test.each([
    ["http://127.0.0.1:9001", "127.0.0.1:9001"],
    ["http://App.Local", "app.local:80"],
    ["https://x.example", "x.example:443"],
    ["127.0.0.1:6379", "127.0.0.1:6379"],
  ])("default server id of %p is %p", (target, id) => expect(defaultServerId(target)).toBe(id));

  test("rewrite splits at the first arrow", () => {
    expect(parseRewrite("~^/old/(.*) -> /new/$1")).toEqual({ pattern: "^/old/(.*)", replacement: "/new/$1" });
    expect(parseRewrite("/no-tilde -> /x")).toBeNull();
  });
});

describe("defaults", () => {
  test("an empty config gets every default", () => {
    const r = parseWithProblems(configSchema, {});
    expect(r.ok && r.value).toEqual({
      listen: [":8080"],
      admin: { listen: "127.0.0.1:9901" },
      workers: 1,
      limits: {
        maxBodySize: 128 * 1024 * 1024,
        maxHeaderSize: 16 * 1024,
        maxUriLength: 8 * 1024,
        maxHeaderCount: 100,
        headerTimeout: 10_000,
        idleTimeout: 60_000,
        bodyTimeout: 30_000,
        sendTimeout: 60_000,
        maxConnections: 10_000,
        maxResponseHeaderSize: 64 * 1024,
      },
      trustedProxies: ["127.0.0.1/32", "::1/128"],
      shutdownTimeout: 10_000,
      accessLog: true,
      pools: {},
      routes: [],
      tcp: [],
      udp: [],
      plugins: [],
      pathNormalization: { mergeSlashes: true, encodedSlashes: "refuse", forward: "normalized" },
    });
  });

  test("pools, servers and routes are filled in, durations become milliseconds", () => {
    const r = parseWithProblems(configSchema, {
      listen: "127.0.0.1:8080",
      pools: { app: { servers: [{ url: "http://a:1", failTimeout: "30s" }], health: { path: "/healthz" } }, redis },
      routes: [{ pool: "app", plugins: ["request-id"] }],
    });
    if (!r.ok) throw new Error(r.problems.join("\n"));
    const c = r.value;
    expect(c.listen).toEqual(["127.0.0.1:8080"]);
    expect(c.pools.app).toEqual({
      mode: "http",
      balance: "round-robin",
      hash: "ip",
      retries: 1,
      preserveHost: true,
      servers: [{ url: "http://a:1", weight: 1, maxFails: 1, failTimeout: 30_000, backup: false, down: false, maxConns: 0, slowStart: 0 }],
      health: { path: "/healthz", expect: "200-399", interval: 2000, timeout: 1000, rise: 2, fall: 2 },
      timeouts: { connect: 3000, response: 60_000 },
      latencyDecay: 10_000,
      queue: { max: 100, timeout: 5000 },
    });
    expect(c.pools.redis!.mode).toBe("tcp");
    expect(c.routes[0]!.plugins).toEqual([{ use: "request-id", options: undefined }]);
  });

  test("defineConfig is the identity", () => {
    const input = { pools: { app } };
    expect(defineConfig(input)).toBe(input);
  });
});

describe("problem lines", () => {
  test.each<[string, unknown, string[]]>([
    ["wrong type", { workers: "x" }, ['workers: expected a whole number or "auto" (got "x")']],
    ["too small", { workers: 0 }, ["workers: must be at least 1 (got 0)"]],
    ["too big", { pools: { app: { servers: [{ url: "http://a:1", weight: 5000 }] } } }, ["pools.app.servers[0].weight: must be at most 1000 (got 5000)"]],
    [
      "not whole",
      { pools: { app: { servers: [{ url: "http://a:1", maxFails: 1.5 }] } } },
      ["pools.app.servers[0].maxFails: expected a whole number (got 1.5)"],
    ],
    ["missing key", { pools: { app: {} } }, ["pools.app.servers: required: expected an array of objects (got nothing)"]],
    ["empty array", { listen: [] }, ["listen: must not be empty (got [])"]],
    ["empty string", { routes: [{ pool: "" }] }, ['routes[0].pool: must not be empty (got "")']],
    ["one or many", { listen: 8080 }, ["listen: expected a string or an object, or an array of them (got 8080)"]],
    ["literal or object", { admin: "yes" }, ['admin: expected false or an object (got "yes")']],
    [
      "union of literals",
      { routes: [{ redirect: { to: "/", status: 300 } }] },
      ["routes[0].redirect.status: expected one of: 301, 302, 303, 307, 308 (got 300)"],
    ],
    [
      "enum with suggestion",
      { pools: { app: { ...app, sticky: { sameSite: "lax" } } } },
      ['pools.app.sticky.sameSite: expected one of: Strict, Lax, None (got "lax") — did you mean "Lax"?'],
    ],
    [
      "enum or array of it",
      { routes: [{ pool: "app", match: { browser: "nokia" } }] },
      [
        'routes[0].match.browser: expected one of: mobile, tablet, desktop, bot, chrome, firefox, safari, edge, opera, samsung, ie, or an array of them (got "nokia")',
      ],
    ],
    ["unknown discriminator", { pools: { app: { mode: "udp", ...app } } }, ['pools.app.mode: expected one of: tcp, http (got "udp")']],
    [
      "custom message passes through",
      { pools: { app: { ...app, timeouts: { connect: "soon" } } } },
      ['pools.app.timeouts.connect: not a duration: use milliseconds or a number with ms, s, m, h or d, like "2s" (got "soon")'],
    ],
    ["bad size", { limits: { maxBodySize: "lots" } }, ['limits.maxBodySize: not a size: use bytes or a number with kb, mb or gb, like "8mb" (got "lots")']],
    ["bad address", { listen: ["x", ":80"] }, ['listen[0]: not an address: use "host:port" or ":port" (got "x")']],
    ["starts with", { routes: [{ pool: "a", stripPrefix: "api" }] }, ['routes[0].stripPrefix: must start with "/" (got "api")']],
    ["route refinement", { routes: [{ name: "x" }] }, ['routes[0]: a route needs one of pool, static or redirect (got {"name":"x"})']],
    [
      "health host that would split a head",
      { pools: { app: { ...app, health: { host: "a\r\nx: y" } } } },
      ['pools.app.health.host: not a host: no spaces or control characters (got "a\\r\\nx: y")'],
    ],
    [
      "health path with a space",
      { pools: { app: { ...app, health: { path: "/a b" } } } },
      ['pools.app.health.path: not a path: no spaces or control characters (got "/a b")'],
    ],
    ["object branch of a union", { plugins: [{ use: 5 }] }, ["plugins[0].use: expected a string (got 5)"]],
    ["record key", { pools: { "my pool": app } }, ['pools["my pool"]: not a pool name: use letters, digits, _ . - (got "my pool")']],
    ["not an object at all", "hello", ['config: expected an object (got "hello")']],
    [
      "long values are cut; lines follow the file's key order",
      { routes: [{ pool: "a", match: { path: 5 }, name: "x" }], listen: "x".repeat(100) },
      [
        "routes[0].match.path: expected a string or an array of strings (got 5)",
        `listen: not an address: use "host:port" or ":port" (got "${"x".repeat(58)}…)`,
      ],
    ],
  ])("%s", (_name, input, lines) => {
    expect(schemaLines(input)).toEqual(lines);
  });

  test("unknown keys: one line per key, with did-you-mean when close", () => {
    expect(schemaLines({ pools: { app: { servers: [{ url: "http://a:1", wieght: 2, colour: "red" }], helth: {} } } })).toEqual([
      'pools.app.servers[0].wieght: unknown key (got 2) — did you mean "weight"?',
      'pools.app.servers[0].colour: unknown key (got "red")',
      'pools.app.helth: unknown key (got {}) — did you mean "health"?',
    ]);
    expect(schemaLines({ plugins: [{ use: "x", optoins: {} }] })).toEqual(['plugins[0].optoins: unknown key (got {}) — did you mean "options"?']);
    expect(schemaLines({ listn: ":80" })).toEqual(['listn: unknown key (got ":80") — did you mean "listen"?']);
  });

  test("several problems at once, in file order, without duplicates", () => {
    const input = {
      workers: -1,
      listen: 5,
      pools: {
        b: {
          servers: [
            { url: "ftp://x", weight: 0 },
            { url: "http://ok:1", slowStart: true },
          ],
        },
        a: { mode: "tcp", servers: [{ url: "http://x" }] },
      },
      admin: { listen: 9901, tokn: "s" },
    };
    expect(schemaLines(input)).toEqual([
      "workers: must be at least 1 (got -1)",
      "listen: expected a string or an object, or an array of them (got 5)",
      'pools.b.servers[0].url: not an upstream URL: use "http://host:port" or "https://host:port" (got "ftp://x")',
      "pools.b.servers[0].weight: must be at least 1 (got 0)",
      "pools.b.servers[1].slowStart: expected a number or a string (got true)",
      'pools.a.servers[0].url: unknown key (got "http://x")',
      "pools.a.servers[0].address: required: expected a string (got nothing)",
      "admin.listen: expected a string (got 9901)",
      'admin.tokn: unknown key (got "s") — did you mean "token"?',
    ]);
  });

  test("formatPath and formatValue", () => {
    expect(formatPath(["routes", 2, "match", "path"])).toBe("routes[2].match.path");
    expect(formatPath(["tcp", 0, "sni", "db.example.com"])).toBe('tcp[0].sni["db.example.com"]');
    expect(formatPath(["routes", 0, "match", "headers", "x-version"])).toBe("routes[0].match.headers.x-version");
    expect(formatPath([])).toBe("config");
    expect(formatValue(undefined)).toBe("nothing");
    expect(formatValue({ a: [1, "b"] })).toBe('{"a":[1,"b"]}');
    expect(formatValue(() => 1)).toBe("a function");
    expect(formatValue(NaN)).toBe("NaN");
    expect(formatValue("y".repeat(80))).toHaveLength(60);
  });
});

describe("reference checks", () => {
  test.each<[string, ConfigInput, string[]]>([
    [
      "a good config",
      {
        pools: { app, redis, dns: { mode: "tcp", servers: [{ address: "127.0.0.1:53" }] } },
        routes: [
          { pool: "app", match: { path: "~^/v[0-9]+/", headers: { "x-v": ["1", "~^2"] } } },
          { pool: "app", rewrite: { path: "~^/old/(.*) -> /new/$1" } },
        ],
        tcp: [
          { listen: "127.0.0.1:6380", pool: "redis" },
          { listen: "127.0.0.1:8443", sni: { "*": "redis" } },
        ],
        udp: [{ listen: "127.0.0.1:6380", pool: "dns" }], // same port as a tcp listener: a different protocol, no clash
        admin: { listen: ":9901", token: "secret" },
        listen: ["127.0.0.1:0", "127.0.0.1:0"],
      },
      [],
    ],
    [
      "route to a missing pool",
      { pools: { app }, routes: [{ pool: "app" }, { pool: "ap" }] },
      ['routes[1].pool: no such pool (got "ap") — did you mean "app"?'],
    ],
    ["route to a missing pool, nothing close", { pools: { app }, routes: [{ pool: "zzz" }] }, ['routes[0].pool: no such pool (got "zzz")']],
    [
      "route to a tcp pool",
      { pools: { redis }, routes: [{ pool: "redis" }] },
      ['routes[0].pool: "redis" is a tcp pool; a route needs an http pool (got "redis")'],
    ],
    [
      "tcp listener pool missing",
      { pools: { redis }, tcp: [{ listen: ":6380", pool: "rediss" }] },
      ['tcp[0].pool: no such pool (got "rediss") — did you mean "redis"?'],
    ],
    [
      "tcp listener to an http pool",
      { pools: { app }, tcp: [{ listen: ":6380", pool: "app" }] },
      ['tcp[0].pool: "app" is an http pool; a tcp listener needs a pool with mode "tcp" (got "app")'],
    ],
    [
      "sni targets",
      { pools: { app, redis }, tcp: [{ listen: ":8443", sni: { "db.example.com": "pg", "*": "app" } }] },
      [
        'tcp[0].sni["db.example.com"]: no such pool (got "pg")',
        'tcp[0].sni["*"]: "app" is an http pool; a tcp listener needs a pool with mode "tcp" (got "app")',
      ],
    ],
    [
      "udp listener pool",
      {
        pools: { app },
        udp: [
          { listen: ":53", pool: "dns" },
          { listen: ":54", pool: "app" },
        ],
      },
      ['udp[0].pool: no such pool (got "dns")', 'udp[1].pool: "app" is an http pool; a udp listener needs a pool with mode "tcp" (got "app")'],
    ],
    [
      "unknown balancer, close",
      { pools: { app: { ...app, balance: "round-robbin" } } },
      ['pools.app.balance: unknown balancing algorithm (got "round-robbin") — did you mean "round-robin"?'],
    ],
    [
      "unknown balancer, far",
      { pools: { app: { ...app, balance: "magic" } } },
      ['pools.app.balance: expected one of: round-robin, random, least-conn, ip-hash, consistent-hash (got "magic")'],
    ],
    [
      "duplicate ids, explicit and default",
      {
        pools: {
          app: { servers: [{ url: "http://a:1", id: "x" }, { url: "http://b:1", id: "x" }, { url: "http://c:1" }, { url: "http://C:1" }] },
          redis: { mode: "tcp", servers: [{ address: "127.0.0.1:6379" }, { address: "127.0.0.1:6379" }] },
        },
      },
      [
        'pools.app.servers[1].id: duplicate server id, also servers[0] (got "x")',
        'pools.app.servers[3].id: duplicate server id (the default id is host:port; set an id), also servers[2] (got "c:1")',
        'pools.redis.servers[1].id: duplicate server id (the default id is host:port; set an id), also servers[0] (got "127.0.0.1:6379")',
      ],
    ],
    [
      "stripPrefix with rewrite",
      { pools: { app }, routes: [{ pool: "app", stripPrefix: "/api", rewrite: { path: "~^/a -> /b" } }] },
      ['routes[0].stripPrefix: cannot be combined with rewrite; put the prefix into the rewrite pattern (got "/api")'],
    ],
    [
      "regexes that do not compile",
      {
        pools: { app },
        routes: [{ pool: "app", match: { path: ["/ok", "~^/(v1"], headers: { "x-a": "~[a" }, query: { q: "~*" }, cookies: { c: "(not a regex)" } } }],
      },
      [
        'routes[0].match.path[1]: not a valid regular expression: missing ) (got "~^/(v1")',
        'routes[0].match.headers.x-a: not a valid regular expression: missing terminating ] for character class (got "~[a")',
        'routes[0].match.query.q: not a valid regular expression: nothing to repeat (got "~*")',
      ],
    ],
    [
      "rewrite regex",
      { pools: { app }, routes: [{ pool: "app", rewrite: { path: "~+( -> /x" } }] },
      ['routes[0].rewrite.path: not a valid regular expression: nothing to repeat (got "~+( -> /x")'],
    ],
    [
      "same address twice",
      {
        listen: ["127.0.0.1:8080", ":8080"],
        admin: { listen: "127.0.0.1:8080" },
        pools: { redis },
        tcp: [
          { listen: "127.0.0.1:8081", pool: "redis" },
          { listen: "127.0.0.1:8081", pool: "redis" },
        ],
        udp: [
          { listen: ":53", pool: "redis" },
          { listen: "127.0.0.1:53", pool: "redis" },
        ],
      },
      [
        'listen[1]: address already used by listen[0] (got ":8080")',
        'admin.listen: address already used by listen[0] (got "127.0.0.1:8080")',
        'tcp[1].listen: address already used by tcp[0].listen (got "127.0.0.1:8081")',
        'udp[1].listen: address already used by udp[0].listen (got "127.0.0.1:53")',
      ],
    ],
    [
      "admin on all interfaces without a token",
      { admin: { listen: ":9901" } },
      ["admin.token: required when admin.listen is not a loopback address (got nothing)"],
    ],
    ["admin on loopback or off needs no token", { admin: { listen: "[::1]:9901" } }, []],
    ["admin off", { admin: false, listen: "127.0.0.1:9901" }, []],
  ])("%s", (_name, input, lines) => {
    const got = refLines(input);
    // Regex engine wording differs between runtimes (these are JSC's); compare up to the reason there.
    if (typeof Bun === "undefined")
      expect(got.map((l) => l.replace(/expression: .*\(got/, "("))).toEqual(lines.map((l) => l.replace(/expression: .*\(got/, "(")));
    else expect(got).toEqual(lines);
  });
});

describe("loading files", () => {
  let dir = "";
  const file = async (name: string, text: string) => {
    if (!dir) dir = await mkdtemp(join(tmpdir(), "sluice-config-"));
    const path = join(dir, name);
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, text);
    return path;
  };
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const opts = { knownBalancers: BALANCERS };
  const problemsOf = async (path: string) => {
    try {
      await loadConfig(path, opts);
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
    throw new Error("expected a ConfigError");
  };

  test("a JSON file", async () => {
    const path = await file("a/sluice.json", JSON.stringify({ listen: ":8081", pools: { app }, routes: [{ pool: "app" }] }));
    const loaded = await loadConfig(path, opts);
    expect(loaded.path).toBe(path);
    expect(loaded.dir).toBe(join(dir, "a"));
    expect(loaded.config.listen).toEqual([":8081"]);
    expect(loaded.config.pools.app!.servers[0]!.weight).toBe(1);
  });

  test("a TypeScript file with defineConfig, re-read on every load", async () => {
    const define = join(import.meta.dir, "../gateway/config/define.ts");
    const source = (n: number) =>
      `import { defineConfig } from ${JSON.stringify(define)};\nconst workers: number = ${n};\nexport default defineConfig({ workers, pools: { app: { servers: [{ url: "http://a:1" }] } } });\n`;
    const path = await file("b/sluice.config.ts", source(2));
    expect((await loadConfig(path, opts)).config.workers).toBe(2);
    await writeFile(path, source(3)); // as an edit before SIGHUP
    expect((await loadConfig(path, opts)).config.workers).toBe(3);
  });

  test("a .mjs file", async () => {
    const path = await file("c.mjs", `export default { listen: "127.0.0.1:8082" };`);
    expect((await loadConfig(path, opts)).config.listen).toEqual(["127.0.0.1:8082"]);
  });

  test("schema problems and reference problems are thrown as lines", async () => {
    const bad = await file("d.json", JSON.stringify({ workers: 0, pools: { app: { servers: [{ url: "http://a:1", wieght: 1 }] } } }));
    expect(await problemsOf(bad)).toEqual(["workers: must be at least 1 (got 0)", 'pools.app.servers[0].wieght: unknown key (got 1) — did you mean "weight"?']);
    const refs = await file("e.json", JSON.stringify({ pools: { app }, routes: [{ pool: "ap" }] }));
    expect(await problemsOf(refs)).toEqual(['routes[0].pool: no such pool (got "ap") — did you mean "app"?']);
  });

  test("the ConfigError message is the lines joined", () => {
    const e = new ConfigError(["a: x (got 1)", "b: y (got 2)"]);
    expect(e.message).toBe("a: x (got 1)\nb: y (got 2)");
  });

  test("a JSON syntax error is one line", async () => {
    const path = await file("f.json", '{ "listen": ":80", }');
    const lines = await problemsOf(path);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(`${path}: not valid JSON: `)).toBe(true);
  });

  test("a missing file is one line", async () => {
    const path = join(dir || tmpdir(), "nope.json");
    expect(await problemsOf(path)).toEqual([`${path}: cannot read the config file (ENOENT: no such file)`]);
  });

  test("a module without a default export, or one that throws", async () => {
    const none = await file("g.ts", "export const config = {};\n");
    expect(await problemsOf(none)).toEqual([`${none}: no default export (write "export default defineConfig({ ... })")`]);
    const throws = await file("h.ts", 'throw new Error("boom");\nexport default {};\n');
    expect(await problemsOf(throws)).toEqual([`${throws}: cannot load the config file: boom`]);
  });

  test("an unsupported extension", async () => {
    const path = await file("i.yaml", "listen: :80\n");
    expect(await problemsOf(path)).toEqual([`${path}: unsupported config file type ".yaml": use .ts, .js, .mjs or .json`]);
  });

  test("checkConfig prints ok or the lines", async () => {
    const good = await file("j.json", "{}");
    expect(await checkConfig(good, BALANCERS)).toEqual({ ok: true, lines: ["ok"] });
    const bad = await file("k.json", JSON.stringify({ pools: { app: { ...app, balance: "nope" } } }));
    expect(await checkConfig(bad, ["round-robin"])).toEqual({ ok: false, lines: ['pools.app.balance: expected one of: round-robin (got "nope")'] });
  });

  test("findDefaultConfig prefers sluice.config.ts, then sluice.config.json", async () => {
    const both = join(dir, "both");
    await file("both/sluice.config.json", "{}");
    expect(findDefaultConfig(both)).toBe(join(both, "sluice.config.json"));
    await file("both/sluice.config.ts", "export default {};\n");
    expect(findDefaultConfig(both)).toBe(join(both, "sluice.config.ts"));
    await mkdir(join(dir, "empty"));
    expect(findDefaultConfig(join(dir, "empty"))).toBeUndefined();
  });
});

describe("features this version does not have yet", () => {
  test("are refused with a clear line instead of being ignored", async () => {
    const { validateConfig } = await import("../gateway/gateway.ts");
    let problems: string[] = [];
    try {
      validateConfig({
        pools: {
          app: { servers: [{ url: "http://127.0.0.1:9001", slowStart: "30s" }], health: { path: "/up" }, sticky: {}, cache: {} },
          redis: { mode: "tcp", servers: [{ address: "127.0.0.1:6379" }] },
        },
        routes: [{ pool: "app" }],
        tcp: [{ listen: "127.0.0.1:6380", pool: "redis" }],
        udp: [{ listen: "127.0.0.1:5353", pool: "redis" }],
      });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems.map((p) => p.slice(0, p.indexOf(":")))).toEqual(["pools.app.cache"]);
    for (const line of problems) expect(line).toContain("not supported in this version of Sluice");
  });
});

describe("route patterns are checked at load, as the router compiles them", () => {
  test("a misplaced * and an unknown redirect placeholder are config problems", async () => {
    const { validateConfig } = await import("../gateway/gateway.ts");
    let problems: string[] = [];
    try {
      validateConfig({
        pools: { app: { servers: [{ url: "http://127.0.0.1:9001" }] } },
        routes: [{ match: { path: ["/ok/*", "/a*b"] }, pool: "app" }, { redirect: { to: "https://$hots$path" } }],
      });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems).toHaveLength(2);
    expect(problems[0]).toStartWith("routes[0].match.path[1]: ");
    expect(problems[0]).toEndWith('(got "/a*b")');
    expect(problems[1]).toStartWith("routes[1].redirect.to: unknown placeholder $hots");
  });
});
