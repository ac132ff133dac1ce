// A plugin's life: setup when a config is loaded, teardown when that config stops serving — after a reload
// (once the requests that started on it have ended), at shutdown, when a reload is refused half-way, and after
// `sluice check`, which loads plugins as startup does. Also: plugins installed as packages next to the config.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import { until } from "./helpers/common.ts";
import { runCli } from "./helpers/process.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

const lifecycle = resolve(import.meta.dir, "fixtures/plugins/lifecycle.ts");

let dir: string;
let journalCount = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-lifecycle-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh journal file for one test; `lines()` reads what the plugins wrote so far. */
function journal(): { path: string; lines(): string[] } {
  const path = join(dir, `journal-${++journalCount}.txt`);
  return { path, lines: () => (existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : []) };
}

function plugin(path: string, tag: string, extra: Record<string, unknown> = {}) {
  return { use: lifecycle, options: { journal: path, tag, ...extra } };
}

/** An upstream that holds every request under /slow until `release()`. */
function holdingUpstream(): Upstream & { release(): void; held(): number } {
  let waiting: (() => void)[] = [];
  let released = false;
  const up = startUpstream("app", async (request) => {
    if (!new URL(request.url).pathname.includes("/slow")) return undefined;
    if (!released) await new Promise<void>((wake) => waiting.push(wake));
    return new Response("slow done");
  });
  return Object.assign(up, {
    release() {
      released = true;
      for (const wake of waiting) wake();
      waiting = [];
    },
    held: () => waiting.length,
  });
}

describe("teardown", () => {
  let up: ReturnType<typeof holdingUpstream>;
  beforeAll(() => {
    up = holdingUpstream();
  });
  afterAll(async () => {
    up.release();
    await up.stop();
  });

  const config = (path: string, generation: string, routeExtra: Record<string, unknown> = {}): ConfigInput => ({
    listen: "127.0.0.1:0",
    admin: false,
    accessLog: false,
    plugins: [plugin(path, `global-${generation}`)],
    pools: { app: { servers: [{ url: up.url }] } },
    routes: [
      // No middleware: the engine's byte path serves it.
      { name: "engine", match: { path: "/engine/*" }, pool: "app", plugins: [plugin(path, `engine-${generation}`)] },
      // Middleware: the hono path serves it.
      { name: "hono", match: { path: "/hono/*" }, pool: "app", plugins: [plugin(path, `hono-${generation}`, { middleware: true, ...routeExtra })] },
    ],
  });

  test("a reload sets up the new plugins, then tears down the replaced ones once; stop tears down the rest", async () => {
    const j = journal();
    const gw = await startGateway({ config: config(j.path, "1") });
    try {
      expect(j.lines()).toEqual(["setup global-1", "setup engine-1", "setup hono-1"]);
      await gw.reload(config(j.path, "2"));
      await until(() => j.lines().length === 9, "the replaced plugins torn down");
      const lines = j.lines();
      expect(lines.slice(3, 6)).toEqual(["setup global-2", "setup engine-2", "setup hono-2"]);
      // Reverse order of setup: what was opened last closes first.
      expect(lines.slice(6)).toEqual(["teardown hono-1", "teardown engine-1", "teardown global-1"]);
      const res = await fetch(`${gw.url}/hono/x`);
      expect(res.headers.get("x-lifecycle")).toBe("hono-2");
      await res.text();
    } finally {
      await gw.stop();
    }
    expect(j.lines().slice(9)).toEqual(["teardown hono-2", "teardown engine-2", "teardown global-2"]);
  });

  test("the replaced plugins are torn down only after the requests that started on them have ended", async () => {
    const j = journal();
    const gw = await startGateway({ config: config(j.path, "1") });
    try {
      const engine = fetch(`${gw.url}/engine/slow`);
      const hono = fetch(`${gw.url}/hono/slow`);
      await until(() => up.held() === 2, "both requests at the upstream");
      await gw.reload(config(j.path, "2"));
      // The new config serves at once...
      const fresh = await fetch(`${gw.url}/hono/x`);
      expect(fresh.headers.get("x-lifecycle")).toBe("hono-2");
      await fresh.text();
      // ...while the old plugins stay up for the two requests still running on them.
      expect(j.lines().filter((l) => l.startsWith("teardown"))).toEqual([]);
      up.release();
      const [a, b] = await Promise.all([engine, hono]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(b.headers.get("x-lifecycle")).toBe("hono-1");
      await Promise.all([a.text(), b.text()]);
      await until(() => j.lines().filter((l) => l.startsWith("teardown")).length === 3, "the old plugins torn down");
      expect(
        j
          .lines()
          .filter((l) => l.startsWith("teardown"))
          .sort(),
      ).toEqual(["teardown engine-1", "teardown global-1", "teardown hono-1"]);
    } finally {
      up.release();
      await gw.stop();
    }
  });

  test("a reload refused by a plugin that fails to load tears down what it had set up; the running plugins stay", async () => {
    const j = journal();
    const gw = await startGateway({ config: config(j.path, "1") });
    try {
      const broken = config(j.path, "2");
      broken.routes![1]!.plugins = [{ use: "./no-such-plugin.ts" }];
      await expect(gw.reload(broken)).rejects.toThrow(/routes\[1\]\.plugins\[0\]\.use: cannot load plugin/);
      expect(j.lines().slice(3)).toEqual(["setup global-2", "setup engine-2", "teardown engine-2", "teardown global-2"]);
      const res = await fetch(`${gw.url}/hono/x`);
      expect(res.headers.get("x-lifecycle")).toBe("hono-1");
      await res.text();
    } finally {
      await gw.stop();
    }
  });

  test("a teardown that throws is reported and the other plugins are still torn down", async () => {
    const j = journal();
    const gw = await startGateway({ config: config(j.path, "1", { failTeardown: true }) });
    await gw.reload(config(j.path, "2"));
    await until(() => j.lines().includes("teardown global-1"), "the global plugin torn down after the throwing one");
    expect(j.lines()).toContain("teardown hono-1");
    const res = await fetch(`${gw.url}/engine/x`);
    expect(res.status).toBe(200);
    await res.text();
    await gw.stop();
  });
});

describe("sluice check loads the plugins", () => {
  async function writeConfig(name: string, config: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(config, null, 2));
    return path;
  }

  test("a config whose plugins load is ok, and their setup is torn down before check exits", async () => {
    const j = journal();
    const path = await writeConfig("check-ok.json", {
      pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } },
      plugins: [plugin(j.path, "g")],
      routes: [{ pool: "app", plugins: [plugin(j.path, "r")] }],
    });
    expect(await runCli(["check", "--config", path])).toEqual({ code: 0, out: "ok\n" });
    expect(j.lines()).toEqual(["setup g", "setup r", "teardown r", "teardown g"]);
  });

  test("a missing plugin file and options a plugin refuses fail the check, one line each", async () => {
    const path = await writeConfig("check-bad.json", {
      pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } },
      plugins: [{ use: "./missing-plugin.ts" }],
      routes: [{ pool: "app", plugins: [{ use: "headers", options: { request: { set: { "bad name": "x" } } } }] }],
    });
    const { code, out } = await runCli(["check", "--config", path]);
    expect(code).toBe(1);
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toStartWith("plugins[0].use: cannot load plugin");
    expect(lines[0]).toEndWith('(got "./missing-plugin.ts")');
    expect(lines[1]).toStartWith("routes[0].plugins[0].options.request.set.bad name: ");
  });
});

describe("a plugin installed as a package next to the config", () => {
  test("is found in the config directory's node_modules", async () => {
    const project = join(dir, "project");
    const pkg = join(project, "node_modules", "sluice-plugin-stamp");
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "sluice-plugin-stamp", version: "1.0.0", type: "module", main: "index.js" }));
    await writeFile(
      join(pkg, "index.js"),
      `export default {
  name: "stamp",
  setup(options) {
    return { middleware: async (c, next) => { await next(); c.res.headers.set("x-stamp", options.stamp); } };
  },
};
`,
    );
    const up = startUpstream("app");
    const gw = await startGateway({
      configDir: project,
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: { app: { servers: [{ url: up.url }] } },
        routes: [{ pool: "app", plugins: [{ use: "sluice-plugin-stamp", options: { stamp: "from-package" } }] }],
      },
    });
    try {
      const res = await fetch(`${gw.url}/x`);
      expect(res.headers.get("x-stamp")).toBe("from-package");
      expect(await res.text()).toBe("app");
    } finally {
      await gw.stop();
      await up.stop();
    }
  });
});
