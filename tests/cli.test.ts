// The command line as users type it: check, start-up problems, signals (graceful stop, reload) and
// the built-in demo.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listensOn, runCli, startCli, spawnCommand, cliPath } from "./helpers/process.ts";
import { deadPort, processAlive, reaches, until } from "./helpers/common.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, config: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof config === "string" ? config : JSON.stringify(config, null, 2));
  return path;
}

describe("sluice check", () => {
  test("a good config prints ok and exits 0", async () => {
    const path = await writeConfig("good.json", { pools: { app: { servers: [{ url: "http://127.0.0.1:9001" }] } }, routes: [{ pool: "app" }] });
    expect(await runCli(["check", "--config", path])).toEqual({ code: 0, out: "ok\n" });
  });

  test("a TypeScript config with defineConfig is checked the same way", async () => {
    const path = await writeConfig(
      "good.ts",
      `import { defineConfig } from ${JSON.stringify(join(import.meta.dir, "../gateway/mod.ts"))};
export default defineConfig({ pools: { app: { servers: [{ url: "http://127.0.0.1:9001" }] } }, routes: [{ pool: "app" }] });`,
    );
    expect(await runCli(["check", "--config", path])).toEqual({ code: 0, out: "ok\n" });
  });

  test("a broken config prints every problem, one line each, and exits 1", async () => {
    const path = await writeConfig("bad.json", {
      listen: "localhost",
      pools: { app: { servers: [{ url: "http://127.0.0.1:9001", weigth: 2 }], timeouts: { connect: "3 seconds" } } },
      routes: [{ pool: "ap" }],
    });
    const { code, out } = await runCli(["check", "--config", path]);
    expect(code).toBe(1);
    const lines = out.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^listen: .*\(got "localhost"\)$/),
      expect.stringMatching(/^pools\.app\.servers\[0\]\.weigth: unknown key.*did you mean "weight"\?/),
      expect.stringMatching(/^pools\.app\.timeouts\.connect: not a duration.*\(got "3 seconds"\)$/),
      // The reference is checked too: the broken pool still counts as a pool.
      'routes[0].pool: no such pool (got "ap") — did you mean "app"?',
    ]);
  });

  test("a reference problem alone", async () => {
    const path = await writeConfig("refs.json", { pools: { app: { servers: [{ url: "http://127.0.0.1:9001" }] } }, routes: [{ pool: "ap" }] });
    const { code, out } = await runCli(["check", "--config", path]);
    expect(code).toBe(1);
    expect(out.trim()).toBe('routes[0].pool: no such pool (got "ap") — did you mean "app"?');
  });

  test("a missing file is one clear line", async () => {
    const { code, out } = await runCli(["check", "--config", join(dir, "missing.json")]);
    expect(code).toBe(1);
    expect(out.trim()).toMatch(/missing\.json: cannot read the config file \(ENOENT/);
  });
});

describe("start-up problems", () => {
  test("a bad config refuses to start with its problems, exit 1", async () => {
    const path = await writeConfig("bad-run.json", { routes: [{ pool: "nope" }] });
    const { code, out } = await runCli(["--config", path]);
    expect(code).toBe(1);
    expect(out.trim()).toBe('routes[0].pool: no such pool (got "nope")');
  });

  test("a port in use is one clear line, exit 1", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    const path = await writeConfig("busy.json", { listen: `127.0.0.1:${port}`, admin: false });
    const { code, out } = await runCli(["--config", path]);
    blocker.close();
    expect(code).toBe(1);
    expect(out.trim().split("\n")).toHaveLength(1);
    expect(out).toMatch(/^sluice: cannot listen: address already in use/);
  });

  test("an unknown command or flag says so and where help is, exit 2 (did-you-mean: config-tooling.test.ts)", async () => {
    const a = await runCli(["frobnicate"]);
    expect(a.code).toBe(2);
    expect(a.out).toContain('unknown command "frobnicate"');
    const b = await runCli(["--colour"]);
    expect(b.code).toBe(2);
    expect(b.out).toContain('unknown flag --colour\nRun "sluice --help" for every command and flag.');
  });
});

describe("signals", () => {
  let up: Upstream;
  beforeAll(() => {
    up = startUpstream("up", async (req) => {
      if (new URL(req.url).pathname === "/slow") {
        await Bun.sleep(700);
        return new Response("slow done");
      }
      return undefined;
    });
  });
  afterAll(() => up.stop());

  async function gatewayPort(): Promise<number> {
    return await deadPort();
  }

  test("SIGTERM finishes in-flight requests, then exits 0", async () => {
    const port = await gatewayPort();
    const path = await writeConfig("term.json", {
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: false,
      pools: { app: { servers: [{ url: up.url }] } },
      routes: [{ pool: "app" }],
    });
    const gw = await startCli(["--config", path]);
    const inFlight = fetch(`http://127.0.0.1:${port}/slow`);
    await until(() => up.seen.some((s) => s.url === "/slow"), "the request reaches the upstream");
    gw.proc.kill("SIGTERM");
    const res = await inFlight;
    expect(await res.text()).toBe("slow done");
    expect(await gw.proc.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  test("SIGHUP reloads the config; a broken one is refused and the running one stays", async () => {
    const port = await gatewayPort();
    const config = (body: string) => ({
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: false,
      pools: { app: { servers: [{ url: up.url }] } },
      routes: [{ match: { path: "/r" }, redirect: { to: `/${body}` } }, { pool: "app" }],
    });
    const path = await writeConfig("hup.json", config("first"));
    const gw = await startCli(["--config", path]);
    try {
      const get = () => fetch(`http://127.0.0.1:${port}/r`, { redirect: "manual" }).then((r) => r.headers.get("location"));
      expect(await get()).toBe("/first");

      await writeConfig("hup.json", config("second"));
      gw.proc.kill("SIGHUP");
      await gw.waitFor(/reloaded/);
      expect(await get()).toBe("/second");

      await writeConfig("hup.json", { ...config("third"), routes: [{ pool: "missing" }] });
      gw.proc.kill("SIGHUP");
      await gw.waitFor(/reload refused[^]*routes\[0\]\.pool: no such pool/);
      expect(await get()).toBe("/second");
    } finally {
      await gw.stop();
    }
  });
});

describe("the built-in demo", () => {
  test("with no config it starts demo upstreams, prints curl commands, and routes by host, path and browser", async () => {
    const empty = await mkdtemp(join(tmpdir(), "sluice-demo-"));
    const port = await deadPort();
    const adminPort = await deadPort();
    const demo = spawnCommand([process.execPath, cliPath], {
      cwd: empty,
      env: { SLUICE_DEMO_LISTEN: `127.0.0.1:${port}`, SLUICE_DEMO_ADMIN: `127.0.0.1:${adminPort}` },
    });
    try {
      await demo.waitFor(/Sluice demo is running/);
      const banner = demo.output();
      expect(banner).toContain(`curl http://localhost:${port}/api/users`);
      const base = `http://127.0.0.1:${port}`;
      const web = (await (await fetch(`${base}/`)).json()) as { upstream: string };
      expect(web.upstream).toBe("web");
      const api = (await (await fetch(`${base}/api/users?page=2`)).json()) as { upstream: string; path: string };
      expect(api).toMatchObject({ upstream: "api", path: "/users" });
      const byHost = (await (await fetch(`${base}/users`, { headers: { host: "api.localhost" } })).json()) as { upstream: string };
      expect(byHost.upstream).toBe("api");
      const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
      const mobile = (await (await fetch(`${base}/`, { headers: { "user-agent": iphone } })).json()) as { upstream: string };
      expect(mobile.upstream).toBe("mobile");
      expect((await fetch(`http://127.0.0.1:${adminPort}/status`)).status).toBe(200);
    } finally {
      expect(await demo.stop()).toBe(0);
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe("--workers", () => {
  /** The process ids of a process's children. */
  async function childrenOf(pid: number): Promise<number[]> {
    const p = Bun.spawn(["pgrep", "-P", String(pid)], { stdout: "pipe" });
    return (await new Response(p.stdout).text()).trim().split("\n").filter(Boolean).map(Number);
  }

  test("starts worker processes on the same port, and SIGTERM stops them all", async () => {
    const port = await deadPort();
    const path = await writeConfig("workers.json", {
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: false,
      routes: [{ redirect: { to: "/elsewhere" } }],
    });
    const gw = await startCli(["--config", path, "--workers", "3"]);
    try {
      expect(gw.output()).toContain("3 workers");
      const workerPids = await childrenOf(gw.proc.pid);
      expect(workerPids).toHaveLength(2);
      await until(() => workerPids.every((pid) => listensOn(pid, port)), "both workers listen on the port", 3_000);
      const statuses = await Promise.all(Array.from({ length: 60 }, () => fetch(`http://127.0.0.1:${port}/`, { redirect: "manual" }).then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([302]));
      gw.proc.kill("SIGTERM");
      expect(await gw.proc.exited).toBe(0);
      expect(await reaches(0, () => workerPids.filter(processAlive).length)).toBe(0);
    } finally {
      await gw.stop();
    }
  }, 15_000);

  test("workers exit when the primary dies without a word (SIGKILL), and the port is free again", async () => {
    const port = await deadPort();
    const path = await writeConfig("workers-orphaned.json", {
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: false,
      routes: [{ redirect: { to: "/elsewhere" } }],
    });
    const gw = await startCli(["--config", path, "--workers", "3"]);
    const workerPids = await childrenOf(gw.proc.pid);
    try {
      expect(workerPids).toHaveLength(2);
      await until(() => workerPids.every((pid) => listensOn(pid, port)), "both workers listen on the port", 3_000);
      const statuses = await Promise.all(Array.from({ length: 30 }, () => fetch(`http://127.0.0.1:${port}/`, { redirect: "manual" }).then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([302]));
      expect(workerPids.filter(processAlive)).toHaveLength(2); // serving, until…
      gw.proc.kill("SIGKILL");
      await gw.proc.exited;
      expect(await reaches(0, () => workerPids.filter(processAlive).length, 3_000)).toBe(0);
      await expect(fetch(`http://127.0.0.1:${port}/`, { redirect: "manual" })).rejects.toThrow();
    } finally {
      for (const pid of workerPids.filter(processAlive)) process.kill(pid, "SIGKILL");
      await gw.stop();
    }
  }, 15_000);

  test("a bad --workers value is refused as a usage error", async () => {
    const { code, out } = await runCli(["--workers", "zero"]);
    expect(code).toBe(2);
    expect(out).toContain('--workers: expected a whole number of at least 1 or "auto" (got zero)');
  });
});
