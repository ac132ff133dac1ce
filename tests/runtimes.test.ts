// The same gateway on every way it ships: the compiled single binary (run from another directory,
// loading JSON and TS configs, a plugin file and a plugin package from disk, and the built-in plugins) and Deno.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { repoRoot, spawnCommand } from "./helpers/process.ts";
import { deadPort } from "./helpers/common.ts";
import { listen, startUpstream, type Upstream } from "./helpers/upstream.ts";
import { connect, createServer, type Server } from "node:net";
import { SignJWT } from "jose";
import { DENO_GATEWAY_FLAGS } from "./helpers/engine-gateway.ts";

let work: string;
let up: Upstream;
/** A TCP service behind the L4 listener: answers what it got, upper-cased, once the client half-closes. */
let shouter: Server;
let shouterPort: number;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sluice-ship-"));
  up = startUpstream("up");
  shouter = createServer({ allowHalfOpen: true }, (socket) => {
    let got = "";
    socket.on("data", (d) => (got += d.toString()));
    socket.on("end", () => socket.end(got.toUpperCase()));
  });
  shouterPort = await listen(shouter);
  // A user's plugin next to their config, importing only types from Sluice.
  await mkdir(join(work, "plugins"));
  await copyFile(join(repoRoot, "tests/fixtures/plugins/tagger.ts"), join(work, "plugins/tagger.ts"));
});
afterAll(async () => {
  await up.stop();
  shouter.close();
  await rm(work, { recursive: true, force: true });
});

/** A config proxying HTTP on `port` and, given `tcpPort`, TCP there to the shouting service. */
async function configFile(name: string, port: number, tcpPort?: number): Promise<string> {
  const config = {
    listen: `127.0.0.1:${port}`,
    admin: false,
    pools: { app: { servers: [{ url: up.url }] }, shout: { mode: "tcp", servers: [{ address: `127.0.0.1:${shouterPort}` }] } },
    tcp: tcpPort ? [{ listen: `127.0.0.1:${tcpPort}`, pool: "shout" }] : [],
    routes: [{ pool: "app", plugins: [{ use: "./plugins/tagger.ts", options: { tag: name } }] }],
  };
  const path = join(work, name);
  await writeFile(path, name.endsWith(".json") ? JSON.stringify(config) : `export default ${JSON.stringify(config)};\n`);
  return path;
}

/** Through the TCP listener: send, half-close, and read the service's whole answer. */
function expectTcpProxies(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true }, () => socket.end("hello through tcp"));
    let answer = "";
    socket.on("data", (d) => (answer += d.toString()));
    socket.on("error", reject);
    socket.on("close", () => {
      try {
        expect(answer).toBe("HELLO THROUGH TCP");
        resolve();
      } catch (error) {
        reject(error);
      }
    });
  });
}

async function expectProxies(port: number, tag: string) {
  const res = await fetch(`http://127.0.0.1:${port}/hello?x=1`);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("up");
  expect(res.headers.get("x-tagged-by")).toBe(tag);
  expect(res.headers.get("x-request-id")).toBeTruthy();
  expect(up.seen.at(-1)!.url).toBe("/hello?x=1");
  expect(up.seen.at(-1)!.headers.get("x-forwarded-for")).toBe("127.0.0.1");
}

describe("the compiled binary", () => {
  let binary: string;
  beforeAll(async () => {
    binary = join(work, "sluice");
    const build = spawnCommand([
      process.execPath,
      "build",
      "--compile",
      "--no-compile-autoload-bunfig",
      "--no-compile-autoload-dotenv",
      "gateway/cli.ts",
      "--outfile",
      binary,
    ]);
    expect(await build.proc.exited).toBe(0);
  }, 120_000);

  for (const name of ["bin-config.json", "bin-config.ts"]) {
    test(`runs from another directory with ${name} and its plugin file`, async () => {
      const port = await deadPort();
      const tcpPort = await deadPort();
      const path = await configFile(name, port, tcpPort);
      const elsewhere = await mkdtemp(join(tmpdir(), "sluice-cwd-"));
      const gw = spawnCommand([binary, "--config", path], { cwd: elsewhere });
      try {
        await gw.waitFor(/serving/);
        await expectProxies(port, name);
        await expectTcpProxies(tcpPort);
      } finally {
        expect(await gw.stop()).toBe(0);
        await rm(elsewhere, { recursive: true, force: true });
      }
    });
  }

  test("loads a plugin package from the config's node_modules and the built-in jwt, cors and rate-limit", async () => {
    // A package a deployment installed next to its config, plain JavaScript as npm ships it.
    const pkg = join(work, "node_modules/sluice-plugin-stamp");
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "sluice-plugin-stamp", version: "1.0.0", type: "module", main: "index.js" }));
    await writeFile(
      join(pkg, "index.js"),
      [
        "export default {",
        '  name: "stamp",',
        "  setup: (options) => ({",
        '    onRequest(req) { req.setResponseHeader("x-stamp", options.stamp); },',
        "  }),",
        "};",
        "",
      ].join("\n"),
    );
    const secret = "a-secret-long-enough-for-hs256-0123456789";
    const port = await deadPort();
    const config = {
      listen: `127.0.0.1:${port}`,
      admin: false,
      pools: { app: { servers: [{ url: up.url }] } },
      routes: [
        {
          pool: "app",
          plugins: [
            { use: "sluice-plugin-stamp", options: { stamp: "from-package" } },
            { use: "cors", options: { origins: ["https://app.example"] } },
            { use: "jwt", options: { secret, algorithms: ["HS256"] } },
            { use: "rate-limit", options: { limit: 100, window: "1m" } },
          ],
        },
      ],
    };
    const path = join(work, "bin-plugins.json");
    await writeFile(path, JSON.stringify(config));
    const elsewhere = await mkdtemp(join(tmpdir(), "sluice-cwd-"));
    const gw = spawnCommand([binary, "--config", path], { cwd: elsewhere });
    try {
      await gw.waitFor(/serving/);
      const anonymous = await fetch(`http://127.0.0.1:${port}/x`, { headers: { origin: "https://app.example" } });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toContain("Bearer");
      expect(anonymous.headers.get("access-control-allow-origin")).toBe("https://app.example");
      expect(anonymous.headers.get("x-stamp")).toBe("from-package");
      await anonymous.body?.cancel();
      const token = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(new TextEncoder().encode(secret));
      const allowed = await fetch(`http://127.0.0.1:${port}/x`, { headers: { authorization: `Bearer ${token}` } });
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toBe("up");
      expect(allowed.headers.get("x-stamp")).toBe("from-package");
      expect(allowed.headers.get("ratelimit-policy")).toBeTruthy();
    } finally {
      expect(await gw.stop()).toBe(0);
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  test("check works from the binary", async () => {
    const bad = join(work, "bad.json");
    await writeFile(bad, JSON.stringify({ routes: [{ pool: "x" }] }));
    const p = spawnCommand([binary, "check", "--config", bad], { cwd: work });
    expect(await p.proc.exited).toBe(1);
    expect(p.output().trim()).toBe('routes[0].pool: no such pool (got "x")');
  });

  test("serves the demo with no config", async () => {
    const port = await deadPort();
    const adminPort = await deadPort();
    const demo = spawnCommand([binary], { cwd: work, env: { SLUICE_DEMO_LISTEN: `127.0.0.1:${port}`, SLUICE_DEMO_ADMIN: `127.0.0.1:${adminPort}` } });
    try {
      await demo.waitFor(/demo is running/);
      const body = (await (await fetch(`http://127.0.0.1:${port}/api/x`)).json()) as { upstream: string };
      expect(body.upstream).toBe("api");
      // The dashboard's charts come inside the page, drawer script included (nothing to fetch from elsewhere).
      const page = await (await fetch(`http://127.0.0.1:${adminPort}/`)).text();
      expect(page).toMatch(/<div id="charts" data-source="server"[^>]*><section class="card" id="http-charts">/);
      expect(page).toContain('<svg class="plot"');
      expect(page).toContain("const draw = (");
      expect(((await (await fetch(`http://127.0.0.1:${adminPort}/history`)).json()) as { intervalMs: number }).intervalMs).toBe(5000);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });
});

describe("Deno", () => {
  const deno = resolve(repoRoot, "node_modules/.bin/deno");
  const denoRun = [deno, "run", ...DENO_GATEWAY_FLAGS, "gateway/cli.ts"];

  test("deno is installed (npm ci brings it)", () => {
    if (!existsSync(deno)) throw new Error("deno is missing: run `npm ci` (the deno npm package is a devDependency)");
  });

  test("runs the gateway with a config file: HTTP proxying with a plugin, and a TCP listener", async () => {
    const port = await deadPort();
    const tcpPort = await deadPort();
    const path = await configFile("deno-config.json", port, tcpPort);
    const gw = spawnCommand([...denoRun, "--config", path]);
    try {
      await gw.waitFor(/serving/, 30_000);
      await expectProxies(port, "deno-config.json");
      await expectTcpProxies(tcpPort);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  }, 40_000);

  test("deno task start serves the demo", async () => {
    const port = await deadPort();
    const adminPort = await deadPort();
    const demo = spawnCommand([deno, "task", "start"], { env: { SLUICE_DEMO_LISTEN: `127.0.0.1:${port}`, SLUICE_DEMO_ADMIN: `127.0.0.1:${adminPort}` } });
    try {
      await demo.waitFor(/demo is running/, 30_000);
      const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
      const body = (await (await fetch(`http://127.0.0.1:${port}/`, { headers: { "user-agent": iphone } })).json()) as { upstream: string };
      expect(body.upstream).toBe("mobile");
    } finally {
      await demo.stop();
    }
  }, 40_000);
});
