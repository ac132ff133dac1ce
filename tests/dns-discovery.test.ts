// DNS service discovery: a pool server with `resolve: true` stands for one server per A/AAAA record of its
// name, asked of a DNS server this test runs on 127.0.0.1 and whose records the test changes. Two upstreams
// listen on the same port of 127.0.0.1 and 127.0.0.2, so that the name can point at either or both.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, spyOn, test } from "bun:test";
import type { Server } from "bun";
import { TestDnsServer } from "./helpers/dns-server.ts";
import { reaches, until } from "./helpers/common.ts";
import { startEngineGateway } from "./helpers/engine-gateway.ts";
import { gateway, startUpstream, type Gateway } from "./helpers/upstream.ts";
import { validateConfig } from "../gateway/gateway.ts";
import { connect, createServer, type Server as NetServer } from "node:net";
import type { ConfigInput } from "../gateway/config/schema.ts";

interface Twin {
  port: number;
  /** The Host header of each request, health checks included. */
  hosts: string[];
  /** Requests each address answered. */
  hits: Record<string, number>;
  /** Release the requests held at /slow. */
  release(): void;
  stop(): void;
}

/** The same little server on 127.0.0.1:P and 127.0.0.2:P: it answers with its address; /slow waits for `release`. */
function startTwins(): Twin {
  const hits: Record<string, number> = { "127.0.0.1": 0, "127.0.0.2": 0 };
  const hosts: string[] = [];
  let release!: () => void;
  let held = new Promise<void>((r) => (release = r));
  const serve = (hostname: string, port: number): Server<unknown> =>
    Bun.serve({
      hostname,
      port,
      async fetch(request) {
        const path = new URL(request.url).pathname;
        hosts.push(request.headers.get("host") ?? "");
        if (path === "/health") return new Response("ok");
        hits[hostname]!++;
        if (path === "/slow") await held;
        return new Response(hostname);
      },
    });
  const first = serve("127.0.0.1", 0);
  // The port is free on 127.0.0.1 so far; 127.0.0.2 is another address, where it is almost always free too.
  const second = serve("127.0.0.2", first.port!);
  return {
    port: first.port!,
    hits,
    hosts,
    release() {
      release();
      held = new Promise<void>((r) => (release = r));
    },
    stop() {
      release();
      first.stop(true);
      second.stop(true);
    },
  };
}

const NAME = "web.internal";

/** The config problems of `config` as one text ("" when it is valid). */
function problems(config: unknown): string {
  try {
    validateConfig(config as never);
    return "";
  } catch (error) {
    return String((error as Error).message);
  }
}

describe("DNS service discovery (A/AAAA)", () => {
  let dns: TestDnsServer;
  let twins: Twin;
  let gw: Gateway | undefined;

  beforeAll(() => {
    twins = startTwins();
  });
  beforeEach(async () => {
    dns = await TestDnsServer.start();
  });
  afterEach(async () => {
    await gw?.stop(0);
    gw = undefined;
    await dns.close().catch(() => {});
  });
  afterAll(() => {
    twins.stop();
  });

  const statusOf = async () => {
    const doc = (await (await fetch(`${gw!.adminUrl}/status`)).json()) as {
      pools: Record<string, { servers: { id: string; name?: string; target: string; lastCheck: unknown }[] }>;
    };
    return doc.pools.web!.servers;
  };
  const addresses = async () =>
    (await statusOf())
      .map((s) => new URL(s.target).hostname)
      .sort()
      .join(",");
  const send = async (n: number, path = "/") => {
    const seen: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await fetch(`${gw!.url}${path}`);
      expect(r.status).toBe(200);
      seen.push(await r.text());
    }
    return seen;
  };

  test("servers follow the records: one address, both, the other one; in-flight requests finish; failed lookups keep the last set", async () => {
    const log = spyOn(console, "error").mockImplementation(() => {});
    try {
      dns.set(NAME, { a: ["127.0.0.1"], ttl: 1 });
      gw = await gateway({
        admin: { listen: "127.0.0.1:0" },
        resolver: { servers: [dns.address], interval: "100ms", timeout: "500ms" },
        pools: {
          web: {
            servers: [{ url: `http://${NAME}:${twins.port}`, resolve: true }],
            health: { path: "/health", interval: "100ms", timeout: "500ms" },
          },
        },
        routes: [{ match: { path: "/*" }, pool: "web" }],
      });

      // One record: one server, shown under its name, with an id that carries the address.
      await until(async () => (await addresses()) === "127.0.0.1", "the first lookup");
      const [only] = await statusOf();
      expect(only!.name).toBe(NAME);
      expect(only!.id).toBe(`${NAME}:${twins.port}@127.0.0.1`);
      expect(new Set(await send(4))).toEqual(new Set(["127.0.0.1"]));

      // Two records: both take requests, and the new one is health-checked too.
      dns.set(NAME, { a: ["127.0.0.1", "127.0.0.2"], ttl: 1 });
      await until(async () => (await addresses()) === "127.0.0.1,127.0.0.2", "the second address");
      expect(new Set(await send(6))).toEqual(new Set(["127.0.0.1", "127.0.0.2"]));
      await until(async () => (await statusOf()).every((s) => s.lastCheck !== null), "health checks of both servers");

      // A request held on 127.0.0.2 while its record goes away still completes there.
      const before = twins.hits["127.0.0.2"]!;
      const pending: Promise<string>[] = [];
      for (let i = 0; i < 2; i++) pending.push(fetch(`${gw.url}/slow`).then((r) => r.text()));
      await until(() => twins.hits["127.0.0.2"]! > before, "a slow request on 127.0.0.2");
      dns.set(NAME, { a: ["127.0.0.1"], ttl: 1 });
      await until(async () => (await addresses()) === "127.0.0.1", "127.0.0.2 removed");
      twins.release();
      expect(await Promise.all(pending)).toContain("127.0.0.2");
      expect(new Set(await send(4))).toEqual(new Set(["127.0.0.1"]));

      // The other one only.
      dns.set(NAME, { a: ["127.0.0.2"], ttl: 1 });
      await until(async () => (await addresses()) === "127.0.0.2", "switch to 127.0.0.2");
      expect(new Set(await send(4))).toEqual(new Set(["127.0.0.2"]));

      // The name server fails (SERVFAIL): several lookups later the servers are those of the last good answer.
      dns.failing = true;
      const asked = dns.asked(NAME);
      await until(() => dns.asked(NAME) >= asked + 6, "lookups while failing");
      expect(await addresses()).toBe("127.0.0.2");
      expect(new Set(await send(3))).toEqual(new Set(["127.0.0.2"]));
      const lines = () => log.mock.calls.map((c) => String(c[0]));
      // One line when lookups start failing, not one per lookup.
      expect(lines().filter((l) => l.includes(`lookup of ${NAME} failed`))).toHaveLength(1);
      expect(lines().find((l) => l.includes(`lookup of ${NAME} failed`))).toContain("keeping 127.0.0.2");

      // It answers again, then stops altogether: the last good set stays.
      dns.failing = false;
      dns.set(NAME, { a: ["127.0.0.1", "127.0.0.2"], ttl: 1 });
      await until(async () => (await addresses()) === "127.0.0.1,127.0.0.2", "lookups working again");
      await dns.close();
      await until(() => lines().filter((l) => l.includes(`lookup of ${NAME} failed`)).length === 2, "a lookup failing against a stopped server");
      expect(await addresses()).toBe("127.0.0.1,127.0.0.2");
      expect(new Set(await send(6))).toEqual(new Set(["127.0.0.1", "127.0.0.2"]));
    } finally {
      log.mockRestore();
    }
  }, 20_000);

  test("without an interval, names are looked up again when the TTL (within minTtl-maxTtl) runs out", async () => {
    // An hour's TTL, cut to maxTtl: the change is seen within it.
    dns.set(NAME, { a: ["127.0.0.1"], ttl: 3600 });
    gw = await gateway({
      admin: { listen: "127.0.0.1:0" },
      resolver: { servers: [dns.address], minTtl: "100ms", maxTtl: "300ms" },
      pools: { web: { servers: [{ url: `http://${NAME}:${twins.port}`, resolve: true }] } },
      routes: [{ match: { path: "/*" }, pool: "web" }],
    });
    await until(async () => (await addresses()) === "127.0.0.1", "the first lookup");
    dns.set(NAME, { a: ["127.0.0.2"], ttl: 0 });
    await until(async () => (await addresses()) === "127.0.0.2", "the lookup after maxTtl");
    // TTL 0, raised to minTtl: asked again and again, not in a loop.
    const asked = dns.asked(NAME);
    await until(() => dns.asked(NAME) >= asked + 4, "lookups every minTtl");
  });

  test("on Deno too", async () => {
    dns.set(NAME, { a: ["127.0.0.1"], ttl: 60 });
    const deno = await startEngineGateway("deno", {
      resolver: { servers: [dns.address], interval: "100ms" },
      pools: { web: { servers: [{ url: `http://${NAME}:${twins.port}`, resolve: true }] } },
      routes: [{ match: { path: "/*" }, pool: "web" }],
    });
    try {
      const answer = async () => {
        const r = await fetch(`${deno.url}/`);
        return r.status === 200 ? await r.text() : String(r.status);
      };
      expect(await reaches("127.0.0.1", answer)).toBe("127.0.0.1");
      dns.set(NAME, { a: ["127.0.0.2"], ttl: 60 });
      expect(await reaches("127.0.0.2", answer)).toBe("127.0.0.2");
      for (let i = 0; i < 3; i++) expect(await answer()).toBe("127.0.0.2");
      expect((await deno.server("web")).id).toBe(`${NAME}:${twins.port}@127.0.0.2`);
    } finally {
      await deno.stop();
    }
  }, 20_000);

  test("with preserveHost: false, requests and health checks name the server by its DNS name", async () => {
    dns.set(NAME, { a: ["127.0.0.2"], ttl: 60 });
    gw = await gateway({
      admin: { listen: "127.0.0.1:0" },
      resolver: { servers: [dns.address] },
      pools: {
        web: {
          servers: [{ url: `http://${NAME}:${twins.port}`, resolve: true }],
          preserveHost: false,
          health: { path: "/health", interval: "100ms", timeout: "500ms" },
        },
      },
      routes: [{ match: { path: "/*" }, pool: "web" }],
    });
    await until(async () => (await addresses()) === "127.0.0.2", "the first lookup");
    await until(async () => (await statusOf())[0]!.lastCheck !== null, "a health check");
    twins.hosts.length = 0;
    expect(await send(2)).toEqual(["127.0.0.2", "127.0.0.2"]);
    await until(async () => (await statusOf())[0]!.lastCheck !== null && twins.hosts.length >= 3, "another health check");
    expect(new Set(twins.hosts)).toEqual(new Set([`${NAME}:${twins.port}`]));
  });

  test("sticky clients stay on a resolved server", async () => {
    dns.set(NAME, { a: ["127.0.0.1", "127.0.0.2"], ttl: 60 });
    gw = await gateway({
      admin: { listen: "127.0.0.1:0" },
      resolver: { servers: [dns.address] },
      pools: { web: { servers: [{ url: `http://${NAME}:${twins.port}`, resolve: true }], sticky: { cookie: "S" } } },
      routes: [{ match: { path: "/*" }, pool: "web" }],
    });
    await until(async () => (await addresses()) === "127.0.0.1,127.0.0.2", "the first lookup");
    const first = await fetch(`${gw.url}/`);
    const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
    expect(cookie).toMatch(/^S=[A-Za-z0-9_-]{22}$/);
    const bound = await first.text();
    for (let i = 0; i < 4; i++) {
      const again = await fetch(`${gw.url}/`, { headers: { cookie } });
      expect(await again.text()).toBe(bound);
    }
  });

  test("a reload keeps the resolved servers and what they learnt", async () => {
    dns.set(NAME, { a: ["127.0.0.1", "127.0.0.2"], ttl: 60 });
    const config: ConfigInput = {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      accessLog: false,
      resolver: { servers: [dns.address] },
      pools: { web: { servers: [{ url: `http://${NAME}:${twins.port}`, resolve: true, weight: 2 }] } },
      routes: [{ match: { path: "/*" }, pool: "web" }],
    };
    gw = await gateway(config as Parameters<typeof gateway>[0]);
    await until(async () => (await addresses()) === "127.0.0.1,127.0.0.2", "the first lookup");
    await send(4);
    const asked = dns.asked(NAME);
    // Same servers, another weight: the addresses are there at once, with their counters.
    await gw.reload({
      ...config,
      listen: gw.url.replace("http://", ""),
      pools: { web: { servers: [{ url: `http://${NAME}:${twins.port}`, resolve: true, weight: 3 }] } },
    });
    const servers = gw.current.pools.get("web")!.servers;
    expect(servers.map((s) => s.hostname).sort()).toEqual(["127.0.0.1", "127.0.0.2"]);
    expect(servers.reduce((sum, s) => sum + s.requests, 0)).toBe(4);
    expect(servers.every((s) => s.configuredWeight === 3)).toBe(true);
    // The new snapshot looks the name up again.
    await until(() => dns.asked(NAME) > asked, "a lookup after the reload");
  });
});

describe("DNS service discovery in a TCP pool", () => {
  test("connections follow the records", async () => {
    const dns = await TestDnsServer.start();
    const servers: NetServer[] = [];
    const answerWith = (hostname: string, port: number) =>
      new Promise<number>((resolve, reject) => {
        const server = createServer((socket) => socket.end(hostname));
        server.once("error", reject);
        server.listen(port, hostname, () => resolve((server.address() as { port: number }).port));
        servers.push(server);
      });
    const port = await answerWith("127.0.0.1", 0);
    await answerWith("127.0.0.2", port);
    dns.set("db.internal", { a: ["127.0.0.1"], ttl: 1 });
    const gw = await gateway({
      admin: { listen: "127.0.0.1:0" },
      resolver: { servers: [dns.address], interval: "100ms" },
      pools: { db: { mode: "tcp", servers: [{ address: `db.internal:${port}`, resolve: true }] } },
      tcp: [{ listen: "127.0.0.1:0", pool: "db" }],
    });
    try {
      const doc = (await (await fetch(`${gw.adminUrl}/status`)).json()) as { listeners: { kind: string; address: string }[] };
      const listener = doc.listeners.find((l) => l.kind === "tcp")!.address;
      const front = Number(listener.slice(listener.lastIndexOf(":") + 1));
      const reply = () =>
        new Promise<string>((resolve, reject) => {
          let text = "";
          const socket = connect(front, "127.0.0.1");
          socket.on("data", (d) => (text += d));
          socket.on("end", () => resolve(text));
          socket.on("error", reject);
        });
      const replies = async (n: number) => {
        const seen = new Set<string>();
        for (let i = 0; i < n; i++) seen.add(await reply());
        return [...seen].sort().join(",");
      };
      const targets = () =>
        gw.current.pools
          .get("db")!
          .servers.map((s) => s.target)
          .sort()
          .join(",");
      await until(() => targets() === `127.0.0.1:${port}`, "the first lookup");
      expect(await replies(3)).toBe("127.0.0.1");
      dns.set("db.internal", { a: ["127.0.0.2", "127.0.0.1"], ttl: 1 });
      await until(() => targets() === `127.0.0.1:${port},127.0.0.2:${port}`, "both addresses");
      expect(await replies(6)).toBe("127.0.0.1,127.0.0.2");
      dns.set("db.internal", { a: ["127.0.0.2"], ttl: 1 });
      await until(() => targets() === `127.0.0.2:${port}`, "the other address");
      expect(await replies(3)).toBe("127.0.0.2");
      expect(gw.current.pools.get("db")!.servers[0]!.id).toBe(`db.internal:${port}@127.0.0.2`);
    } finally {
      await gw.stop(0);
      for (const server of servers) server.close();
      await dns.close();
    }
  });
});

describe("DNS service discovery with SRV records", () => {
  test("one server per record, with its port and weight; a higher priority number is a backup", async () => {
    const dns = await TestDnsServer.start();
    const a = startUpstream("a");
    const b = startUpstream("b");
    const SRV = "_http._tcp.api.internal";
    dns.set(SRV, { srv: [{ target: "127.0.0.1", port: a.port, weight: 1, priority: 10 }], ttl: 60 });
    const gw = await gateway({
      admin: { listen: "127.0.0.1:0" },
      resolver: { servers: [dns.address], interval: "100ms" },
      pools: { api: { servers: [{ srv: SRV }] } },
      routes: [{ match: { path: "/*" }, pool: "api" }],
    });
    const log = spyOn(console, "error").mockImplementation(() => {});
    try {
      const status = async () => {
        const doc = (await (await fetch(`${gw.adminUrl}/status`)).json()) as {
          pools: { api: { servers: { id: string; name?: string; target: string; weight: number; backup: boolean }[] } };
        };
        return doc.pools.api.servers.sort((x, y) => x.id.localeCompare(y.id));
      };
      const answers = async (n: number) => {
        const seen: string[] = [];
        for (let i = 0; i < n; i++) seen.push(await (await fetch(`${gw.url}/`)).text());
        return seen;
      };
      await until(async () => (await status()).length === 1, "the first lookup");
      const [first] = await status();
      expect(first).toMatchObject({ id: `${SRV}@127.0.0.1:${a.port}`, name: SRV, target: `http://127.0.0.1:${a.port}` });
      expect(new Set(await answers(3))).toEqual(new Set(["a"]));

      // Two records, weights 1 and 3: b takes three requests in four.
      dns.set(SRV, {
        srv: [
          { target: "127.0.0.1", port: a.port, weight: 1, priority: 10 },
          { target: "127.0.0.1", port: b.port, weight: 3, priority: 10 },
        ],
      });
      await until(async () => (await status()).length === 2, "the second record");
      expect((await status()).map((s) => s.weight).sort()).toEqual([1, 3]);
      const eight = await answers(8);
      expect(eight.filter((x) => x === "b")).toHaveLength(6);

      // a drops to a higher priority number: a backup, b takes everything; a's counters stay.
      const aRequests = a.seen.length;
      dns.set(SRV, {
        srv: [
          { target: "127.0.0.1", port: a.port, weight: 1, priority: 20 },
          { target: "127.0.0.1", port: b.port, weight: 3, priority: 10 },
        ],
      });
      await until(async () => (await status()).some((s) => s.backup), "a as a backup");
      expect(new Set(await answers(4))).toEqual(new Set(["b"]));
      expect(a.seen.length).toBe(aRequests);
      const aServer = gw.current.pools.get("api")!.byId(`${SRV}@127.0.0.1:${a.port}`)!;
      expect(aServer.requests).toBe(aRequests);

      // b goes away: the backup serves.
      dns.set(SRV, { srv: [{ target: "127.0.0.1", port: a.port, weight: 1, priority: 20 }] });
      await until(async () => (await status()).length === 1, "b removed");
      expect(new Set(await answers(3))).toEqual(new Set(["a"]));
    } finally {
      log.mockRestore();
      await gw.stop(0);
      await Promise.all([a.stop(), b.stop(), dns.close()]);
    }
  });

  test("config: an SRV name, without resolve", () => {
    expect(problems({ pools: { api: { servers: [{ srv: "_http._tcp.api.internal", weight: 2 }] } } })).toBe("");
    expect(problems({ pools: { t: { mode: "tcp", servers: [{ srv: "_pg._tcp.db.internal" }] } } })).toBe("");
    expect(problems({ pools: { api: { servers: [{ srv: "api.internal" }] } } })).toContain("pools.api.servers[0].srv: not an SRV name");
    expect(problems({ pools: { api: { servers: [{ url: "nope" }] } } })).toContain("pools.api.servers[0].url: not an upstream URL");
  });
});

describe("DNS service discovery config", () => {
  test("resolve needs a DNS name, not an address", () => {
    const message = problems({ pools: { web: { servers: [{ url: "http://10.0.0.1:8080", resolve: true }] } } });
    expect(message).toContain("pools.web.servers[0].resolve: needs a DNS name to look up, not an address");
    expect(problems({ pools: { t: { mode: "tcp", servers: [{ address: "[::1]:9000", resolve: true }] } } })).toContain("pools.t.servers[0].resolve");
    expect(problems({ pools: { web: { servers: [{ url: "http://web.internal:8080", resolve: true }] } } })).toBe("");
  });

  test("resolver.servers takes IP addresses with an optional port", () => {
    expect(problems({ resolver: { servers: ["127.0.0.1:53", "10.0.0.2", "[::1]:5353", "::1"], interval: "10s" } })).toBe("");
    expect(problems({ resolver: { servers: ["dns.example:53"] } })).toContain("resolver.servers[0]: not a name server");
    expect(problems({ resolver: { servers: ["127.0.0.1:99999"] } })).toContain("resolver.servers[0]");
    expect(problems({ resolver: { minTtl: "10s", maxTtl: "1s" } })).toContain("resolver.minTtl: minTtl is above maxTtl");
    expect(problems({ resolver: { server: [] } })).toContain("resolver.server: unknown key");
  });
});
