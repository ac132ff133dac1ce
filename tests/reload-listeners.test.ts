// Listen addresses changed by a reload, as an operator does it: edit the config file, POST /reload. A new address
// serves at once; a removed one stops taking connections while a request in flight on it still gets its answer;
// an address kept is not touched (a keep-alive connection on it goes on); an address that cannot be listened on
// (a port in use) refuses the whole reload and the running listeners and config stay. The same for TCP listeners
// and the admin listener, and for --workers processes (each reloads on the SIGHUP the primary passes on).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startGateway, type Gateway } from "../gateway/gateway.ts";
import { deadPort, reaches, until } from "./helpers/common.ts";
import { spawnCommand, startCli } from "./helpers/process.ts";
import { DENO_GATEWAY_FLAGS, denoPath } from "./helpers/engine-gateway.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";
import { openWire } from "./helpers/wire.ts";

const TOKEN = "reload-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const lifecycle = resolve(import.meta.dir, "fixtures/plugins/lifecycle.ts");

let dir: string;
let configCount = 0;
let up: Upstream & { release(): void; held(): number };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-reload-listeners-"));
  // Holds every request under /slow until release().
  const waiting: (() => void)[] = [];
  const upstream = startUpstream("app", async (request) => {
    if (!new URL(request.url).pathname.startsWith("/slow")) return undefined;
    await new Promise<void>((wake) => waiting.push(wake));
    return new Response("slow done");
  });
  up = Object.assign(upstream, {
    release() {
      for (const wake of waiting.splice(0)) wake();
    },
    held: () => waiting.length,
  });
});
afterAll(async () => {
  up.release();
  await up.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A config of `listen` addresses proxying to the upstream, `/r` redirecting to `/<to>`. */
function config(listen: string[], extra: Record<string, unknown> = {}, to = "one") {
  return {
    listen,
    admin: { listen: "127.0.0.1:0", token: TOKEN },
    accessLog: false,
    pools: { app: { servers: [{ url: up.url }] } },
    routes: [{ match: { path: "/r" }, redirect: { to: `/${to}` } }, { pool: "app" }],
    ...extra,
  };
}

/** A config file and a way to rewrite it. */
async function configFile(content: unknown): Promise<{ path: string; write(content: unknown): Promise<void> }> {
  const path = join(dir, `config-${++configCount}.json`);
  const write = (next: unknown) => writeFile(path, JSON.stringify(next, null, 2));
  await write(content);
  return { path, write };
}

async function postReload(gw: Gateway, adminUrl = gw.adminUrl!): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${adminUrl}/reload`, { method: "POST", headers: auth });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** Whether a TCP connection to 127.0.0.1:port is accepted (false: refused). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function get(port: number, path = "/"): Promise<{ status: number; body: string; location: string | null }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: "manual" });
  return { status: response.status, body: await response.text(), location: response.headers.get("location") };
}

async function listenerAddresses(gw: Gateway): Promise<string[]> {
  const status = (await (await fetch(`${gw.adminUrl}/status`, { headers: auth })).json()) as { listeners: Array<{ kind: string; address: string }> };
  return status.listeners.filter((l) => l.kind === "http").map((l) => l.address);
}

describe("HTTP listen addresses on reload", () => {
  test("a new address serves after the reload; a kept one keeps its open keep-alive connection", async () => {
    const [a, b] = [await deadPort(), await deadPort()];
    const file = await configFile(config([`127.0.0.1:${a}`]));
    const gw = await startGateway({ configPath: file.path });
    const wire = await openWire(a);
    try {
      wire.write(`GET /first HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect((await wire.read()).status).toBe(200);
      expect(await accepts(b)).toBe(false);

      await file.write(config([`127.0.0.1:${a}`, `127.0.0.1:${b}`]));
      const { status, body } = await postReload(gw);
      expect(status).toBe(200);
      expect(body.status).toBe("reloaded");
      expect(body.listeners).toEqual({ opened: [`127.0.0.1:${b}`], closed: [] });
      expect(await get(b)).toMatchObject({ status: 200, body: "app" });
      expect(await listenerAddresses(gw)).toEqual([`127.0.0.1:${a}`, `127.0.0.1:${b}`]);

      // The connection opened before the reload on the kept address is still the same one, and still served.
      wire.write(`GET /second HTTP/1.1\r\nHost: x\r\n\r\n`);
      const second = await wire.read();
      expect(second.status).toBe(200);
      expect(second.body.toString()).toBe("app");
      expect(wire.ended).toBe(false);
    } finally {
      wire.close();
      await gw.stop(0);
    }
  });

  test("port 0: two such listeners both stay, and a config naming the port one was given keeps it", async () => {
    const file = await configFile(config(["127.0.0.1:0", "127.0.0.1:0"]));
    const gw = await startGateway({ configPath: file.path });
    try {
      const given = await listenerAddresses(gw);
      expect(given).toHaveLength(2);
      expect(new Set(given).size).toBe(2);
      const unchanged = await postReload(gw);
      expect(unchanged.status).toBe(200);
      expect(unchanged.body.listeners).toEqual({ opened: [], closed: [] });
      expect(await listenerAddresses(gw)).toEqual(given);
      // What /status shows, written back into the config, is the same listeners: nothing is bound twice.
      await file.write(config([given[1]!, "127.0.0.1:0"]));
      const named = await postReload(gw);
      expect(named.status).toBe(200);
      expect(named.body.listeners).toEqual({ opened: [], closed: [] });
      expect((await listenerAddresses(gw)).sort()).toEqual([...given].sort());
      await file.write(config(["127.0.0.1:0", given[0]!]));
      const reversed = await postReload(gw);
      expect(reversed.body.listeners).toEqual({ opened: [], closed: [] });
      expect((await listenerAddresses(gw)).sort()).toEqual([...given].sort());
      for (const address of given) expect(await get(Number(address.split(":")[1]))).toMatchObject({ status: 200, body: "app" });
    } finally {
      await gw.stop(0);
    }
  });

  test("a removed address refuses new connections while a request in flight on it gets its answer", async () => {
    const [a, b] = [await deadPort(), await deadPort()];
    const file = await configFile(config([`127.0.0.1:${a}`, `127.0.0.1:${b}`]));
    const gw = await startGateway({ configPath: file.path });
    try {
      const inFlight = get(b, "/slow");
      await until(() => up.held() === 1, "the slow request reaches the upstream");

      await file.write(config([`127.0.0.1:${a}`]));
      const { status, body } = await postReload(gw);
      expect(status).toBe(200);
      expect(body.listeners).toEqual({ opened: [], closed: [`127.0.0.1:${b}`] });
      // Closed for new connections as soon as the reload answered, while the request on it is still held.
      expect(await accepts(b)).toBe(false);
      expect(up.held()).toBe(1);
      expect(await listenerAddresses(gw)).toEqual([`127.0.0.1:${a}`]);

      up.release();
      expect(await inFlight).toMatchObject({ status: 200, body: "slow done" });
      expect(await get(a)).toMatchObject({ status: 200, body: "app" });
    } finally {
      up.release();
      await gw.stop(0);
    }
  });

  test("an address already in use refuses the whole reload: the running listeners, config, server state and plugins stay", async () => {
    const a = await deadPort();
    const occupier: NetServer = createServer();
    await new Promise<void>((resolve) => occupier.listen(0, "127.0.0.1", resolve));
    const taken = (occupier.address() as { port: number }).port;
    const journal = join(dir, "journal-in-use.txt");
    const lines = () => (existsSync(journal) ? readFileSync(journal, "utf8").split("\n").filter(Boolean) : []);
    // A route's target, a server's weight (its state is shared with the next config only once that serves) and a
    // plugin each config sets up anew.
    const versioned = (listen: string[], to: string, weight: number) =>
      config(listen, { pools: { app: { servers: [{ url: up.url, weight }] } }, plugins: [{ use: lifecycle, options: { journal, tag: to } }] }, to);
    const weight = async () => ((await (await fetch(`${gw.adminUrl}/status`, { headers: auth })).json()) as any).pools.app.servers[0].weight;
    const file = await configFile(versioned([`127.0.0.1:${a}`], "one", 1));
    const gw = await startGateway({ configPath: file.path });
    try {
      // A new route, weight and plugin, and a listener that cannot be opened: none of it is applied.
      await file.write(versioned([`127.0.0.1:${a}`, `127.0.0.1:${taken}`], "two", 5));
      const { status, body } = await postReload(gw);
      expect(status).toBe(400);
      expect(body.success).toBe(false);
      expect(body.error).toBe("reload refused: the running config stays");
      expect(body.problems).toEqual([`listen[1]: cannot listen on 127.0.0.1:${taken} (address already in use)`]);
      expect(await get(a, "/r")).toMatchObject({ status: 302, location: "/one" });
      expect(await listenerAddresses(gw)).toEqual([`127.0.0.1:${a}`]);
      expect(await weight()).toBe(1);
      // The plugin set up for the refused config is torn down; the running one stays.
      expect(lines()).toEqual(["setup one", "setup two", "teardown two"]);
      const reload = ((await (await fetch(`${gw.adminUrl}/status`, { headers: auth })).json()) as { reload: any }).reload;
      expect(reload.lastAttempt).toMatchObject({ success: false, trigger: "admin", problems: body.problems });

      // Once the port is free, the same config is taken whole.
      await new Promise<void>((resolve) => occupier.close(() => resolve()));
      const again = await postReload(gw);
      expect(again.status).toBe(200);
      expect(again.body.listeners.opened).toEqual([`127.0.0.1:${taken}`]);
      expect(await get(taken, "/r")).toMatchObject({ status: 302, location: "/two" });
      expect(await get(a, "/r")).toMatchObject({ status: 302, location: "/two" });
      expect(await weight()).toBe(5);
      await until(() => lines().length === 5, "the replaced config's plugin torn down");
      expect(lines().slice(3)).toEqual(["setup two", "teardown one"]);
    } finally {
      occupier.close();
      await gw.stop(0);
    }
  });

  test("a setting a kept listener cannot change is reported as a note; the rest of the reload applies", async () => {
    const a = await deadPort();
    const file = await configFile(config([`127.0.0.1:${a}`], {}, "one"));
    const gw = await startGateway({ configPath: file.path });
    try {
      await file.write(config([{ address: `127.0.0.1:${a}`, maxConnections: 5 }] as never, {}, "two"));
      const { status, body } = await postReload(gw);
      expect(status).toBe(200);
      expect(body.notes).toEqual([`listen[0]: maxConnections changed on 127.0.0.1:${a}: a listener kept by a reload keeps its settings until a restart`]);
      expect(await get(a, "/r")).toMatchObject({ status: 302, location: "/two" });
    } finally {
      await gw.stop(0);
    }
  });
});

describe("TCP and admin listen addresses on reload", () => {
  let echo: NetServer;
  let echoPort: number;
  beforeAll(async () => {
    echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    echoPort = (echo.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

  function echoes(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => socket.write("ping"));
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString());
      });
      socket.once("error", reject);
    });
  }

  test("a TCP listener added by a reload accepts, one removed refuses, and the per-server bytes carry on", async () => {
    const [http, t1, t2] = [await deadPort(), await deadPort(), await deadPort()];
    const tcp = (ports: number[]) => ({
      pools: { app: { servers: [{ url: up.url }] }, echo: { mode: "tcp", servers: [{ address: `127.0.0.1:${echoPort}` }] } },
      tcp: ports.map((port) => ({ listen: `127.0.0.1:${port}`, pool: "echo" })),
    });
    const file = await configFile(config([`127.0.0.1:${http}`], tcp([t1])));
    const gw = await startGateway({ configPath: file.path });
    try {
      expect(await echoes(t1)).toBe("ping");
      await file.write(config([`127.0.0.1:${http}`], tcp([t2])));
      const { status, body } = await postReload(gw);
      expect(status).toBe(200);
      expect(body.listeners).toEqual({ opened: [`127.0.0.1:${t2}`], closed: [`127.0.0.1:${t1}`] });
      expect(await echoes(t2)).toBe("ping");
      expect(await accepts(t1)).toBe(false);
      const status2 = (await (await fetch(`${gw.adminUrl}/status`, { headers: auth })).json()) as any;
      expect(status2.tcp.listeners.map((l: { address: string }) => l.address)).toEqual([`127.0.0.1:${t2}`]);
      // Both connections' bytes, the one through the removed listener included, on the server's line.
      expect(
        await reaches(2, async () => {
          const s = (await (await fetch(`${gw.adminUrl}/status`, { headers: auth })).json()) as any;
          return s.tcp.servers.echo[`127.0.0.1:${echoPort}`]?.connections ?? 0;
        }),
      ).toBe(2);
    } finally {
      await gw.stop(0);
    }
  });

  test("the admin listener moves to its new address; the reload is answered on the old one", async () => {
    const [http, admin1, admin2] = [await deadPort(), await deadPort(), await deadPort()];
    const withAdmin = (port: number) => ({ ...config([`127.0.0.1:${http}`]), admin: { listen: `127.0.0.1:${port}`, token: TOKEN } });
    const file = await configFile(withAdmin(admin1));
    const gw = await startGateway({ configPath: file.path });
    try {
      await file.write(withAdmin(admin2));
      const { status, body } = await postReload(gw, `http://127.0.0.1:${admin1}`);
      expect(status).toBe(200);
      expect(body.listeners).toEqual({ opened: [`127.0.0.1:${admin2}`], closed: [`127.0.0.1:${admin1}`] });
      const moved = await fetch(`http://127.0.0.1:${admin2}/status`, { headers: auth });
      expect(moved.status).toBe(200);
      expect(((await moved.json()) as any).reload.lastAttempt.success).toBe(true);
      expect(await reaches(false, () => accepts(admin1))).toBe(false);
    } finally {
      await gw.stop(0);
    }
  });
});

describe("with --workers", () => {
  test("every process opens the new address and closes the removed one", async () => {
    const [a, b] = [await deadPort(), await deadPort()];
    const file = await configFile({ ...config([`127.0.0.1:${a}`]), admin: false });
    const gw = await startCli(["--config", file.path, "--workers", "2"]);
    try {
      await file.write({ ...config([`127.0.0.1:${b}`]), admin: false });
      gw.proc.kill("SIGHUP");
      await gw.waitFor(/reloaded/);
      // Twenty connections at once, which the kernel spreads over both processes' sockets: each is served on
      // the new address, and none is taken on the old one by a process that would still listen there.
      const twenty = async (port: number) =>
        await Promise.all(
          Array.from({ length: 20 }, () =>
            get(port).then(
              (r) => r.body,
              () => "refused",
            ),
          ),
        );
      expect(await reaches(true, async () => (await twenty(b)).every((body) => body === "app"))).toBe(true);
      expect(await reaches(true, async () => (await twenty(a)).every((body) => body === "refused"))).toBe(true);
    } finally {
      await gw.stop();
    }
  });
});

describe("on Deno", () => {
  test("a reload opens the new address, closes the removed one, and a port in use refuses it", async () => {
    const [a, b, adminPort] = [await deadPort(), await deadPort(), await deadPort()];
    const occupier: NetServer = createServer();
    await new Promise<void>((resolve) => occupier.listen(0, "127.0.0.1", resolve));
    const taken = (occupier.address() as { port: number }).port;
    const withAdmin = (listen: string[]) => ({ ...config(listen), admin: { listen: `127.0.0.1:${adminPort}`, token: TOKEN } });
    const file = await configFile(withAdmin([`127.0.0.1:${a}`]));
    const gw = spawnCommand([denoPath, "run", ...DENO_GATEWAY_FLAGS, "gateway/cli.ts", "--config", file.path]);
    const reload = async () => {
      const response = await fetch(`http://127.0.0.1:${adminPort}/reload`, { method: "POST", headers: auth });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
    try {
      await gw.waitFor(/serving/);
      await file.write(withAdmin([`127.0.0.1:${b}`]));
      const moved = await reload();
      expect(moved.status).toBe(200);
      expect(moved.body.listeners).toEqual({ opened: [`127.0.0.1:${b}`], closed: [`127.0.0.1:${a}`] });
      expect(await get(b)).toMatchObject({ status: 200, body: "app" });
      expect(await reaches(false, () => accepts(a))).toBe(false);

      await file.write(withAdmin([`127.0.0.1:${b}`, `127.0.0.1:${taken}`]));
      const refused = await reload();
      expect(refused.status).toBe(400);
      expect(refused.body.problems).toEqual([`listen[1]: cannot listen on 127.0.0.1:${taken} (address already in use)`]);
      expect(await get(b)).toMatchObject({ status: 200, body: "app" });
    } finally {
      occupier.close();
      await gw.stop();
    }
  });
});
