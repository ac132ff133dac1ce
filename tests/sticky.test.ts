// Sticky sessions end to end: real upstreams (Bun.serve on 127.0.0.1:0) behind a real gateway, driven as a
// browser would be, carrying the cookie the gateway set.
//
// What users can rely on, pinned here:
//  - the first answer binds the client with `Set-Cookie: <cookie>=<opaque token>` and is made
//    `Cache-Control: private` (a shared cache must not hand one client's binding to others);
//  - later requests carrying the cookie go to the same server and get no new cookie, and the upstream
//    never sees the sticky cookie (the client's other cookies pass untouched, in order);
//  - a value the gateway did not issue is ignored: the request is balanced and bound anew, never refused;
//  - when the bound server is down, disabled (admin API) or gone, the client is balanced anew and rebound;
//    a drained server keeps its bound clients but gets no new ones;
//  - tokens are HMAC(key, pool + server id): gateways sharing `sticky.key` honour each other's cookies.
//    Without a key each start draws a random secret, so a RESTART invalidates every cookie (clients are
//    simply rebound); a RELOAD keeps the secret, so cookies survive it. Set `sticky.key` (or run workers,
//    which share the primary's secret) when bindings must survive restarts or span several gateways.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server, ServerWebSocket } from "bun";
import { startGateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

type Sticky = Record<string, unknown>;

function config(upstreams: readonly Upstream[], sticky: Sticky = {}, extra: Partial<ConfigInput> = {}): ConfigInput {
  return {
    listen: "127.0.0.1:0",
    admin: false,
    accessLog: false,
    pools: { app: { servers: upstreams.map((u) => ({ url: u.url, id: u.name })), sticky } },
    routes: [{ pool: "app" }],
    ...extra,
  } as ConfigInput;
}

/** The Set-Cookie line for `name` on a response, if any. */
function setCookieOf(res: Response, name = "SLUICE"): string | undefined {
  return res.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
}

/** The cookie's value from its Set-Cookie line. */
function tokenOf(res: Response, name = "SLUICE"): string {
  const line = setCookieOf(res, name);
  if (!line) throw new Error(`no ${name} cookie set (Set-Cookie: ${JSON.stringify(res.headers.getSetCookie())})`);
  return line.slice(name.length + 1).split(";", 1)[0]!;
}

async function get(url: string, cookie?: string, init: RequestInit = {}): Promise<{ res: Response; server: string }> {
  const res = await fetch(url, { ...init, headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string> | undefined) } });
  const server = res.headers.get("x-upstream") ?? "";
  await res.arrayBuffer();
  return { res, server };
}

/** One fresh client per server (round-robin hands each a different one): server name → token. */
async function bindOnePerServer(gw: Gateway, count: number, name = "SLUICE"): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (let i = 0; i < count * 3 && tokens.size < count; i++) {
    const { res, server } = await get(`${gw.url}/`);
    tokens.set(server, tokenOf(res, name));
  }
  expect(tokens.size).toBe(count);
  return tokens;
}

describe("the Set-Cookie the gateway issues", () => {
  let up: Upstream;
  beforeAll(() => {
    up = startUpstream("a", (request) => {
      const path = new URL(request.url).pathname;
      const cacheControl: Record<string, string> = {
        "/public": "public, max-age=60",
        "/shared": "public, s-maxage=600, max-age=60, must-revalidate",
        "/private": "private, max-age=5",
        "/no-store": "no-store",
      };
      const headers = new Headers({ "x-upstream": "a" });
      if (cacheControl[path]) headers.set("cache-control", cacheControl[path]);
      if (path === "/session") headers.append("set-cookie", "session=abc; Path=/; HttpOnly");
      return new Response("a", { headers });
    });
  });
  afterAll(() => up.stop());

  test("defaults: SLUICE, Path=/, HttpOnly, SameSite=Lax, no Secure, no Max-Age (a session cookie)", async () => {
    const gw = await startGateway({ config: config([up]) });
    try {
      const { res } = await get(`${gw.url}/`);
      expect(res.status).toBe(200);
      const line = setCookieOf(res)!;
      expect(line).toMatch(/^SLUICE=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax$/);
      expect(res.headers.get("cache-control")).toBe("private");
    } finally {
      await gw.stop();
    }
  });

  test("configured name, path, Max-Age, Secure, no HttpOnly, SameSite=Strict", async () => {
    const gw = await startGateway({
      config: config([up], { cookie: "srv_id", path: "/shop", maxAge: "1h", secure: true, httpOnly: false, sameSite: "Strict" }),
    });
    try {
      const { res } = await get(`${gw.url}/`);
      expect(setCookieOf(res)).toBeUndefined();
      const line = setCookieOf(res, "srv_id")!;
      const [pair, ...attributes] = line.split("; ");
      expect(pair).toMatch(/^srv_id=[A-Za-z0-9_-]{22}$/);
      expect(attributes.sort()).toEqual(["Max-Age=3600", "Path=/shop", "SameSite=Strict", "Secure"]);
    } finally {
      await gw.stop();
    }
  });

  test("SameSite=None always comes with Secure (browsers drop it otherwise); a sub-second Max-Age is not 0", async () => {
    const gw = await startGateway({ config: config([up], { sameSite: "None", maxAge: "500ms" }) });
    try {
      const attributes = setCookieOf((await get(`${gw.url}/`)).res)!
        .split("; ")
        .slice(1);
      expect(attributes).toContain("SameSite=None");
      expect(attributes).toContain("Secure");
      // Max-Age=0 would delete the cookie at once: rounded up.
      expect(attributes).toContain("Max-Age=1");
    } finally {
      await gw.stop();
    }
  });

  describe("responses that bind a client are kept out of shared caches", () => {
    let gw: Gateway;
    beforeAll(async () => (gw = await startGateway({ config: config([up]) })));
    afterAll(() => gw.stop());

    test("public becomes private; other directives stay", async () => {
      const { res } = await get(`${gw.url}/public`);
      expect(setCookieOf(res)).toBeDefined();
      expect(res.headers.get("cache-control")).toBe("private, max-age=60");
    });

    test("s-maxage goes too (it is for shared caches only)", async () => {
      const { res } = await get(`${gw.url}/shared`);
      expect(res.headers.get("cache-control")).toBe("private, max-age=60, must-revalidate");
    });

    test("private and no-store are left as they are", async () => {
      expect((await get(`${gw.url}/private`)).res.headers.get("cache-control")).toBe("private, max-age=5");
      expect((await get(`${gw.url}/no-store`)).res.headers.get("cache-control")).toBe("no-store");
    });

    test("a response that binds nobody (valid cookie) keeps the upstream's Cache-Control", async () => {
      const token = tokenOf((await get(`${gw.url}/`)).res);
      const { res } = await get(`${gw.url}/public`, `SLUICE=${token}`);
      expect(setCookieOf(res)).toBeUndefined();
      expect(res.headers.get("cache-control")).toBe("public, max-age=60");
      expect((await get(`${gw.url}/`, `SLUICE=${token}`)).res.headers.get("cache-control")).toBeNull();
    });

    test("the upstream's own Set-Cookie stays, as a separate header", async () => {
      const { res } = await get(`${gw.url}/session`);
      const lines = res.headers.getSetCookie();
      expect(lines).toHaveLength(2);
      expect(lines).toContain("session=abc; Path=/; HttpOnly");
      expect(setCookieOf(res)).toBeDefined();
    });

    test("HEAD answers bind too", async () => {
      const { res } = await get(`${gw.url}/`, undefined, { method: "HEAD" });
      expect(res.status).toBe(200);
      expect(setCookieOf(res)).toBeDefined();
    });
  });
});

describe("binding a client to a server", () => {
  let ups: Upstream[];
  let gw: Gateway;
  let tokens: Map<string, string>;
  beforeAll(async () => {
    ups = ["a", "b", "c"].map((name) => startUpstream(name));
    gw = await startGateway({ config: config(ups) });
    tokens = await bindOnePerServer(gw, 3);
  });
  afterAll(async () => {
    await gw.stop();
    await Promise.all(ups.map((u) => u.stop()));
  });

  test("each server gets its own token; the same server always the same one", async () => {
    expect(new Set(tokens.values()).size).toBe(3);
    // A fourth fresh client lands on a server already seen and gets that server's token again.
    const { res, server } = await get(`${gw.url}/`);
    expect(tokenOf(res)).toBe(tokens.get(server)!);
  });

  test("later requests with the cookie all go to the bound server, without a new Set-Cookie", async () => {
    for (const [server, token] of tokens) {
      for (let i = 0; i < 8; i++) {
        const { res, server: answered } = await get(`${gw.url}/page/${i}`, `SLUICE=${token}`);
        expect(res.status).toBe(200);
        expect(answered).toBe(server);
        expect(setCookieOf(res)).toBeUndefined();
      }
    }
  });

  test("the sticky cookie is removed from the Cookie header the upstream receives; other cookies pass in order", async () => {
    const token = tokens.get("b")!;
    const b = ups[1]!;
    const cases: Array<[sent: string, upstreamSees: string | null]> = [
      [`a=1; SLUICE=${token}; b=2`, "a=1; b=2"],
      [`SLUICE=${token}; theme=dark; lang=en`, "theme=dark; lang=en"],
      [`x=%20y; theme=dark; SLUICE=${token}`, "x=%20y; theme=dark"],
      // Names that merely contain the sticky cookie's name are other cookies.
      [`MYSLUICE=keep; SLUICE=${token}; SLUICE_X=keep2`, "MYSLUICE=keep; SLUICE_X=keep2"],
      [`SLUICE=${token}`, null],
    ];
    for (const [sent, expected] of cases) {
      const { server } = await get(`${gw.url}/cookies`, sent);
      expect(server).toBe("b");
      expect(b.seen.at(-1)!.headers.get("cookie")).toBe(expected);
    }
  });

  test("the value reveals no server id, host or port, not even decoded", async () => {
    const ids = ["server-alpha-01", "server-beta-02", "server-gamma-03"];
    const g2 = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: { app: { servers: ups.map((u, i) => ({ url: u.url, id: ids[i] })), sticky: {} } },
        routes: [{ pool: "app" }],
      },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const { res, server } = await get(`${g2.url}/`);
        const token = tokenOf(res);
        const up = ups.find((u) => u.name === server)!;
        expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
        const decodings = [
          token,
          Buffer.from(token, "base64url").toString("latin1"),
          Buffer.from(token, "base64").toString("latin1"),
          Buffer.from(token, "base64url").toString("hex"),
        ];
        for (const text of decodings) {
          for (const secret of [ids[ups.indexOf(up)]!, "alpha", "beta", "gamma", "127.0.0.1", String(up.port)]) expect(text).not.toContain(secret);
        }
      }
    } finally {
      await g2.stop();
    }
  });

  test("default ids (host:port) leak nothing either", async () => {
    const g2 = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: { app: { servers: ups.map((u) => ({ url: u.url })), sticky: {} } },
        routes: [{ pool: "app" }],
      },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const { res, server } = await get(`${g2.url}/`);
        const token = tokenOf(res);
        const port = String(ups.find((u) => u.name === server)!.port);
        for (const text of [token, Buffer.from(token, "base64url").toString("latin1")]) {
          expect(text).not.toContain(port);
          expect(text).not.toContain("127.0.0.1");
        }
      }
    } finally {
      await g2.stop();
    }
  });

  test("a forged, tampered, foreign or empty value is ignored: balanced normally, a new cookie issued, never an error", async () => {
    const valid = new Set(tokens.values());
    const genuine = tokens.get("a")!;
    const tampered = genuine.slice(0, -1) + (genuine.endsWith("A") ? "B" : "A");
    const forged = [
      "garbage",
      tampered,
      genuine.toLowerCase() === genuine ? genuine.toUpperCase() : genuine.toLowerCase(),
      genuine + "x",
      Buffer.from("a").toString("base64url"),
      Buffer.from(`${ups[0]!.url}`).toString("base64url"),
      "",
      "%00%ff",
      '"quoted"',
    ];
    const landed = new Set<string>();
    for (const value of forged) {
      const { res, server } = await get(`${gw.url}/`, `SLUICE=${value}`);
      expect(res.status).toBe(200);
      const issued = tokenOf(res);
      expect(valid.has(issued)).toBe(true);
      expect(issued).toBe(tokens.get(server)!);
      landed.add(server);
    }
    // Balanced as any new client is (round-robin): not all sent to one server.
    expect(landed.size).toBeGreaterThan(1);
  });

  test("a token from another pool (same servers, same secret) is not honoured", async () => {
    const g2 = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: {
          app: { servers: ups.map((u) => ({ url: u.url, id: u.name })), sticky: {} },
          other: { servers: ups.map((u) => ({ url: u.url, id: u.name })), sticky: {} },
        },
        routes: [{ match: { path: "/other/*" }, pool: "other" }, { pool: "app" }],
      },
    });
    try {
      const fromOther = await get(`${g2.url}/other/x`);
      const token = tokenOf(fromOther.res);
      const { res } = await get(`${g2.url}/`, `SLUICE=${token}`);
      expect(res.status).toBe(200);
      expect(tokenOf(res)).not.toBe(token);
    } finally {
      await g2.stop();
    }
  });
});

describe("when the bound server cannot take the client", () => {
  test("stopped: the request goes to another server (retried), which binds the client anew", async () => {
    const ups = ["a", "b", "c"].map((name) => startUpstream(name));
    const gw = await startGateway({ config: config(ups) });
    try {
      const tokens = await bindOnePerServer(gw, 3);
      await ups[0]!.stop();
      const { res, server } = await get(`${gw.url}/`, `SLUICE=${tokens.get("a")}`);
      expect(res.status).toBe(200);
      expect(server).not.toBe("a");
      const rebound = tokenOf(res);
      expect(rebound).toBe(tokens.get(server)!);
      // From then on the client sticks to its new server.
      for (let i = 0; i < 5; i++) {
        const next = await get(`${gw.url}/`, `SLUICE=${rebound}`);
        expect(next.server).toBe(server);
        expect(setCookieOf(next.res)).toBeUndefined();
      }
      // Other clients of the dead server are moved too, without an error (the server is out after its failure).
      const again = await get(`${gw.url}/`, `SLUICE=${tokens.get("a")}`);
      expect(again.res.status).toBe(200);
      expect(again.server).not.toBe("a");
      expect(setCookieOf(again.res)).toBeDefined();
    } finally {
      await gw.stop();
      await Promise.all(ups.slice(1).map((u) => u.stop()));
    }
  });

  test("removed from the config (reload): its clients are balanced anew, the others keep their servers", async () => {
    const ups = ["a", "b", "c"].map((name) => startUpstream(name));
    const gw = await startGateway({ config: config(ups, {}, {}), stickySecret: "fixed-secret-for-this-test-0001" });
    try {
      const tokens = await bindOnePerServer(gw, 3);
      await gw.reload(config(ups.slice(1)));
      const moved = await get(`${gw.url}/`, `SLUICE=${tokens.get("a")}`);
      expect(moved.res.status).toBe(200);
      expect(moved.server).not.toBe("a");
      expect(setCookieOf(moved.res)).toBeDefined();
      for (const name of ["b", "c"]) {
        const kept = await get(`${gw.url}/`, `SLUICE=${tokens.get(name)}`);
        expect(kept.server).toBe(name);
        expect(setCookieOf(kept.res)).toBeUndefined();
      }
    } finally {
      await gw.stop();
      await Promise.all(ups.map((u) => u.stop()));
    }
  });

  describe("admin changes (disable, drain, enable)", () => {
    let ups: Upstream[];
    let gw: Gateway;
    let tokens: Map<string, string>;
    const admin = (path: string) => fetch(`${gw.adminUrl}${path}`, { method: "POST", headers: { authorization: "Bearer t0ken" } });
    beforeAll(async () => {
      ups = ["a", "b", "c"].map((name) => startUpstream(name));
      gw = await startGateway({ config: config(ups, {}, { admin: { listen: "127.0.0.1:0", token: "t0ken" } }) });
      tokens = await bindOnePerServer(gw, 3);
    });
    afterAll(async () => {
      await gw.stop();
      await Promise.all(ups.map((u) => u.stop()));
    });

    test("disabled: its clients go elsewhere and are rebound; enabled again, the new binding holds", async () => {
      expect((await admin("/pools/app/servers/a/disable")).status).toBe(200);
      const countBefore = ups[0]!.seen.length;
      const { res, server } = await get(`${gw.url}/`, `SLUICE=${tokens.get("a")}`);
      expect(res.status).toBe(200);
      expect(server).not.toBe("a");
      const rebound = tokenOf(res);
      expect(rebound).toBe(tokens.get(server)!);
      expect(ups[0]!.seen.length).toBe(countBefore);
      expect((await admin("/pools/app/servers/a/enable")).status).toBe(200);
      const after = await get(`${gw.url}/`, `SLUICE=${rebound}`);
      expect(after.server).toBe(server);
      expect(setCookieOf(after.res)).toBeUndefined();
      // And a client still holding a's token is back on a.
      expect((await get(`${gw.url}/`, `SLUICE=${tokens.get("a")}`)).server).toBe("a");
    });

    test("drained: keeps its bound clients, gets no new ones", async () => {
      expect((await admin("/pools/app/servers/b/drain")).status).toBe(200);
      try {
        for (let i = 0; i < 6; i++) {
          const { res, server } = await get(`${gw.url}/`, `SLUICE=${tokens.get("b")}`);
          expect(server).toBe("b");
          expect(setCookieOf(res)).toBeUndefined();
        }
        const fresh = new Set<string>();
        for (let i = 0; i < 12; i++) {
          const { res, server } = await get(`${gw.url}/`);
          fresh.add(server);
          expect(tokenOf(res)).toBe(tokens.get(server)!);
        }
        expect([...fresh].sort()).toEqual(["a", "c"]);
        // A forged cookie is a new client too.
        expect((await get(`${gw.url}/`, "SLUICE=forged")).server).not.toBe("b");
      } finally {
        await admin("/pools/app/servers/b/enable");
      }
    });
  });
});

describe("the key: shared between gateways, kept across reloads, drawn anew at restart", () => {
  let ups: Upstream[];
  beforeAll(() => (ups = ["a", "b", "c"].map((name) => startUpstream(name))));
  afterAll(() => Promise.all(ups.map((u) => u.stop())));

  /** Every cookie `from` issued is honoured by `to` (same server, no new Set-Cookie). */
  async function honoured(to: Gateway, tokens: Map<string, string>): Promise<boolean[]> {
    const verdicts: boolean[] = [];
    for (const [server, token] of tokens) {
      const { res, server: answered } = await get(`${to.url}/`, `SLUICE=${token}`);
      expect(res.status).toBe(200);
      verdicts.push(answered === server && setCookieOf(res) === undefined);
    }
    return verdicts;
  }

  test("two gateways with the same sticky.key honour each other's cookies; with different keys they do not", async () => {
    const key = "a-shared-key-of-32-characters!!!";
    const one = await startGateway({ config: config(ups, { key }) });
    const two = await startGateway({ config: config(ups, { key }) });
    const other = await startGateway({ config: config(ups, { key: "another-key-entirely-0123456789" }) });
    try {
      const fromOne = await bindOnePerServer(one, 3);
      const fromTwo = await bindOnePerServer(two, 3);
      expect(fromTwo).toEqual(fromOne);
      expect(await honoured(two, fromOne)).toEqual([true, true, true]);
      expect(await honoured(one, fromTwo)).toEqual([true, true, true]);
      expect(await honoured(other, fromOne)).toEqual([false, false, false]);
      const fromOther = await bindOnePerServer(other, 3);
      for (const [server, token] of fromOther) expect(token).not.toBe(fromOne.get(server)!);
    } finally {
      await Promise.all([one.stop(), two.stop(), other.stop()]);
    }
  });

  test("without a key, a restart draws a new secret: old cookies are ignored (clients rebound, no error)", async () => {
    const first = await startGateway({ config: config(ups) });
    const tokens = await bindOnePerServer(first, 3);
    await first.stop();
    const second = await startGateway({ config: config(ups) });
    try {
      expect(await honoured(second, tokens)).toEqual([false, false, false]);
    } finally {
      await second.stop();
    }
  });

  test("the same stickySecret (what workers are given) keeps cookies valid across starts", async () => {
    const stickySecret = "the-primary-secret-shared-by-workers";
    const first = await startGateway({ config: config(ups), stickySecret });
    const tokens = await bindOnePerServer(first, 3);
    await first.stop();
    const second = await startGateway({ config: config(ups), stickySecret });
    try {
      expect(await honoured(second, tokens)).toEqual([true, true, true]);
    } finally {
      await second.stop();
    }
  });

  test("cookies survive a reload (the secret stays), also one that changes the pool", async () => {
    const gw = await startGateway({ config: config(ups) });
    try {
      const tokens = await bindOnePerServer(gw, 3);
      await gw.reload(config(ups));
      expect(await honoured(gw, tokens)).toEqual([true, true, true]);
      // A new server and other sticky attributes: existing bindings still hold.
      const d = startUpstream("d");
      try {
        await gw.reload(config([...ups, d], { maxAge: "1d", sameSite: "Strict" }));
        expect(await honoured(gw, tokens)).toEqual([true, true, true]);
        const { res } = await get(`${gw.url}/`);
        expect(setCookieOf(res)).toContain("Max-Age=86400");
      } finally {
        await d.stop();
      }
    } finally {
      await gw.stop();
    }
  });

  test("a configured key replaces the gateway's secret: cookies issued before the key was set are ignored", async () => {
    const gw = await startGateway({ config: config(ups) });
    try {
      const tokens = await bindOnePerServer(gw, 3);
      await gw.reload(config(ups, { key: "a-key-set-later-0123456789abcdef" }));
      expect(await honoured(gw, tokens)).toEqual([false, false, false]);
    } finally {
      await gw.stop();
    }
  });
});

describe("WebSocket upgrades", () => {
  interface Conn {
    name: string;
  }
  const wsUpstreams: Array<Server<Conn>> = [];
  const cookiesSeen: Array<string | null> = [];
  let gw: Gateway;

  function wsUpstream(name: string): Server<Conn> {
    return Bun.serve<Conn>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request, server) {
        if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
          cookiesSeen.push(request.headers.get("cookie"));
          if (server.upgrade(request, { data: { name } })) return undefined;
        }
        return new Response(name, { headers: { "x-upstream": name } });
      },
      websocket: {
        open(ws: ServerWebSocket<Conn>) {
          ws.send(`hello from ${ws.data.name}`);
        },
        message() {},
      },
    });
  }

  /** Open a socket through the gateway with the given Cookie header; resolves with the first message. */
  function greeting(cookie?: string): Promise<string> {
    const ws = new WebSocket(gw.url.replace(/^http/, "ws") + "/socket", { headers: cookie ? { cookie } : {} } as unknown as string[]);
    return new Promise<string>((resolve, reject) => {
      ws.onmessage = (event) => {
        resolve(String(event.data));
        ws.close();
      };
      ws.onerror = () => reject(new Error("websocket failed"));
    });
  }

  beforeAll(async () => {
    for (const name of ["a", "b", "c"]) wsUpstreams.push(wsUpstream(name));
    gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: { app: { servers: wsUpstreams.map((s, i) => ({ url: `http://127.0.0.1:${s.port}`, id: "abc"[i]! })), sticky: {} } },
        routes: [{ pool: "app" }],
      },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await Promise.all(wsUpstreams.map((s) => s.stop(true)));
  });

  test("an upgrade carrying the sticky cookie goes to the bound server, every time", async () => {
    const tokens = await bindOnePerServer(gw, 3);
    for (const [server, token] of tokens) {
      for (let i = 0; i < 4; i++) expect(await greeting(`SLUICE=${token}`)).toBe(`hello from ${server}`);
    }
  });

  test("an upgrade with a forged cookie is balanced normally", async () => {
    const landed = new Set<string>();
    for (let i = 0; i < 6; i++) landed.add(await greeting("SLUICE=forged"));
    expect(landed.size).toBeGreaterThan(1);
  });

  // "indirect" holds for WebSocket handshakes too: the upstream never sees the sticky cookie.
  test("the sticky cookie is not sent upstream on an upgrade", async () => {
    const tokens = await bindOnePerServer(gw, 3);
    cookiesSeen.length = 0;
    await greeting(`theme=dark; SLUICE=${tokens.get("a")}`);
    expect(cookiesSeen).toEqual(["theme=dark"]);
  });
});
