// `--workers 3` as one gateway: the CLI started as a user starts it, the primary and two workers sharing the port. /status lists
// every process and sums what they all served; an admin change made on the primary reaches every worker before it
// answers; only the primary probes the servers, and every worker follows its verdicts; a worker that dies is shown
// as gone, is no longer waited for, and is started again with the primary's state.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deadPort, until } from "./helpers/common.ts";
import { startCli, type RunningProcess } from "./helpers/process.ts";
import { rawRequest, startUpstream, type Upstream } from "./helpers/upstream.ts";
import { sampleValue, scrapeMetrics } from "./helpers/metrics.ts";
import { connect, type Socket } from "node:net";
import { PrimaryChannel } from "../gateway/workers/channel.ts";
import { getRuntime } from "../gateway/runtime/current.ts";

interface ServerEntry {
  id: string;
  state: string;
  adminState: string;
  weight: number;
  healthy: boolean;
  requests: number;
}
interface WorkerEntry {
  worker: number;
  pid?: number;
  state: string;
  requests?: number;
  exit?: string;
  restarts?: number;
  pools?: { app: { servers: ServerEntry[] } };
}
interface Status {
  pools: { app: { servers: ServerEntry[] } };
  workers: WorkerEntry[];
}

/** The health-check interval: short, so that the prober's pace is seen within a second or two. */
const INTERVAL_MS = 200;

describe("--workers 3 (the primary and two workers) as one gateway", () => {
  let dir: string;
  let a: Upstream;
  let b: Upstream;
  let gw: RunningProcess;
  let port: number;
  let admin: string;
  let configPath: string;
  /** The config with these servers in pool app. */
  const writeConfig = (servers: Array<{ url: string; id: string }>, adminPort: number) =>
    writeFile(
      configPath,
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        admin: { listen: `127.0.0.1:${adminPort}` },
        accessLog: false,
        pools: {
          app: { servers, health: { path: "/health", interval: `${INTERVAL_MS}ms`, timeout: "1s", rise: 1, fall: 1 } },
        },
        routes: [{ name: "api", pool: "app" }],
      }),
    );
  let adminPort: number;
  /** When each health probe reached `a`. */
  const probesOfA: number[] = [];
  let bFailsChecks = false;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-workers-as-one-"));
    a = startUpstream("a", (request) => {
      if (new URL(request.url).pathname === "/health") probesOfA.push(Date.now());
      return undefined;
    });
    b = startUpstream("b", (request) => {
      if (new URL(request.url).pathname === "/health" && bFailsChecks) return new Response("sick", { status: 503 });
      return undefined;
    });
    port = await deadPort();
    adminPort = await deadPort();
    admin = `http://127.0.0.1:${adminPort}`;
    configPath = join(dir, "sluice.config.json");
    await writeConfig(
      [
        { url: a.url, id: "a" },
        { url: b.url, id: "b" },
      ],
      adminPort,
    );
    gw = await startCli(["--config", configPath, "--workers", "3"]);
    await until(async () => (await status()).workers.filter((w) => w.state === "up").length === 3, "every process up in /status", 10_000, 50);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  const status = async () => (await (await fetch(`${admin}/status`)).json()) as Status;
  const served = (up: Upstream) => up.seen.filter((s) => s.url !== "/health").length;
  /** `count` requests, each on a connection of its own so that the kernel picks a process for each. */
  const send = (count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, i) => rawRequest(port, `GET /r/${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`).then((r) => r.status)),
    );
  const post = (path: string, body?: unknown) =>
    fetch(`${admin}/pools/app/servers/${path}`, { method: "POST", ...(body !== undefined && { body: JSON.stringify(body) }) });
  const serverIn = (w: WorkerEntry, id: string) => w.pools!.app.servers.find((s) => s.id === id)!;

  test("/status lists the three processes and sums what all of them served", async () => {
    const before = await status();
    expect(before.workers.map((w) => w.worker)).toEqual([0, 1, 2]);
    expect(new Set(before.workers.map((w) => w.pid)).size).toBe(3);
    const sent = 90;
    expect(new Set(await send(sent))).toEqual(new Set([200]));
    expect(served(a) + served(b)).toBe(sent);
    const after = await status();
    const total = (s: Status) => s.pools.app.servers.reduce((sum, server) => sum + server.requests, 0);
    expect(total(after) - total(before)).toBe(sent);
    // Each process's own count: together they are every request, and more than one process served some.
    const own = after.workers.map((w, i) => w.requests! - before.workers[i]!.requests!);
    expect(own.reduce((x, y) => x + y, 0)).toBe(sent);
    expect(own.filter((n) => n > 0).length).toBeGreaterThan(1);
    const text = await scrapeMetrics(admin);
    expect(sampleValue(text, "sluice_worker_processes")).toBe(3);
    expect(sampleValue(text, "sluice_worker_up", { worker: "1" })).toBe(1);
    expect(sampleValue(text, "sluice_worker_up", { worker: "2" })).toBe(1);
    // The dashboard's first paint has a row per process.
    const page = await (await fetch(`${admin}/`)).text();
    expect(page).toContain("<h2>Processes</h2>");
    for (const w of after.workers)
      expect(page).toContain(`<tr data-worker="${w.worker}"><td>${w.worker === 0 ? "primary" : `worker ${w.worker}`}</td><td class="num">${w.pid}</td>`);
  }, 15_000);

  test("only the primary probes: the upstream sees one process's pace of health checks, not three", async () => {
    const from = probesOfA.length;
    await until(() => probesOfA.length >= from + 8, "8 more probes", 10_000, 20);
    const elapsed = probesOfA.at(-1)! - probesOfA[from]!;
    const probes = probesOfA.length - from - 1;
    // One prober waits at least the interval less its 15% jitter between two probes; three would send about
    // three times as many in the same time. Late timers only lower the count.
    expect(probes).toBeLessThanOrEqual(Math.floor(elapsed / (INTERVAL_MS * 0.85)) + 1);
  }, 15_000);

  test("disable and drain reach every worker before the answer; enable brings the server back everywhere", async () => {
    const disabled = await post("b/disable");
    expect(disabled.status).toBe(200);
    expect((await disabled.json()).workers).toEqual({ applied: [1, 2], refused: [], unanswered: [] });
    // Already applied in every process: no waiting needed.
    for (const w of (await status()).workers) expect(serverIn(w, "b").adminState).toBe("disabled");
    const bBefore = served(b);
    expect(new Set(await send(60))).toEqual(new Set([200]));
    expect(served(b)).toBe(bBefore);

    const drained = await post("b/drain");
    expect(drained.status).toBe(200);
    for (const w of (await status()).workers) expect(serverIn(w, "b").adminState).toBe("drain");
    expect(new Set(await send(30))).toEqual(new Set([200]));
    expect(served(b)).toBe(bBefore);

    const weighted = await post("b/weight", { weight: 7 });
    expect(weighted.status).toBe(200);
    for (const w of (await status()).workers) expect(serverIn(w, "b").weight).toBe(7);

    expect((await post("b/enable")).status).toBe(200);
    for (const w of (await status()).workers) expect(serverIn(w, "b").adminState).toBe("up");
    await send(60);
    expect(served(b)).toBeGreaterThan(bBefore);
  }, 15_000);

  test("an operator's change outlives a reload in every process, and a server the reload adds is judged by the primary", async () => {
    expect((await post("b/disable")).status).toBe(200);
    // The reloaded config adds two servers: c is fine, nothing listens at d's address. Once every process lists
    // them, every process has reloaded.
    const dead = await deadPort();
    await writeConfig(
      [
        { url: a.url, id: "a" },
        { url: b.url, id: "b" },
        { url: a.url, id: "c" },
        { url: `http://127.0.0.1:${dead}`, id: "d" },
      ],
      adminPort,
    );
    expect((await fetch(`${admin}/reload`, { method: "POST" })).status).toBe(200);
    await until(async () => (await status()).workers.every((w) => w.pools!.app.servers.some((s) => s.id === "d")), "d in every process", 10_000, 50);
    for (const w of (await status()).workers) expect(serverIn(w, "b").adminState).toBe("disabled");
    // The primary's checks take d out, whichever reloaded first: the primary or a worker.
    await until(async () => (await status()).workers.every((w) => !serverIn(w, "d").healthy && serverIn(w, "c").healthy), "d out in every process", 10_000, 50);
    expect((await post("b/enable")).status).toBe(200);
  }, 15_000);

  test("a server the primary's checks take out is out in every worker, and back in every worker", async () => {
    bFailsChecks = true;
    await until(
      async () => (await status()).workers.every((w) => serverIn(w, "b").state === "down" && !serverIn(w, "b").healthy),
      "b down in every process",
      10_000,
      50,
    );
    expect((await status()).pools.app.servers.find((s) => s.id === "b")!.state).toBe("down");
    const bBefore = served(b);
    expect(new Set(await send(60))).toEqual(new Set([200]));
    expect(served(b)).toBe(bBefore);
    bFailsChecks = false;
    await until(async () => (await status()).workers.every((w) => serverIn(w, "b").state === "up"), "b up in every process", 10_000, 50);
  }, 25_000);

  test("a worker that dies is shown as gone and started again; the new one follows what changed meanwhile", async () => {
    // b is out by the primary's checks: a new worker must not start out sending to it.
    bFailsChecks = true;
    await until(async () => (await status()).workers.every((w) => !serverIn(w, "b").healthy), "b down in every process", 10_000, 50);
    const victim = (await status()).workers[2]!;
    process.kill(victim.pid!, "SIGKILL");
    await until(async () => (await status()).workers[2]!.state === "gone", "worker 2 gone", 10_000, 20);
    expect((await status()).workers[2]!.exit).toBe("SIGKILL");
    const text = await scrapeMetrics(admin);
    expect(sampleValue(text, "sluice_worker_up", { worker: "2" })).toBe(0);
    expect(sampleValue(text, "sluice_worker_processes")).toBe(2);
    // While it is away, the operator drains a: only the live worker is waited for.
    const drained = await post("a/drain");
    expect(drained.status).toBe(200);
    expect((await drained.json()).workers).toEqual({ applied: [1], refused: [], unanswered: [] });
    // The primary starts it again; the new process is sent the primary's state when it joins.
    await until(
      async () => {
        const w = (await status()).workers[2]!;
        return w.state === "up" && w.pid !== victim.pid;
      },
      "worker 2 back",
      10_000,
      50,
    );
    const back = (await status()).workers[2]!;
    expect(back.restarts).toBe(1);
    expect(serverIn(back, "a").adminState).toBe("drain");
    expect(serverIn(back, "b").healthy).toBe(false);
    bFailsChecks = false;
    expect((await post("a/enable")).status).toBe(200);
  }, 20_000);
});

describe("the workers' channel keeps strangers and nonsense out", () => {
  /** A raw connection to the channel's port; resolves `closed` when the primary closes it. */
  const open = (channel: PrimaryChannel) => {
    const socket: Socket = connect({ host: "127.0.0.1", port: Number(channel.env.split(" ")[0]) });
    socket.on("error", () => {});
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    return { socket, closed };
  };

  test("a first line past its limit, a connection that never shows the token, and a worker that sends nonsense are cut", async () => {
    const joined: number[] = [];
    const channel = await PrimaryChannel.open(await getRuntime(), { joined: (link) => joined.push(link.worker), left() {} });
    const token = channel.env.split(" ")[1]!;
    try {
      const long = open(channel);
      long.socket.write("x".repeat(4096)); // no newline: the hello line would be longer than the limit
      await long.closed;
      const silent = open(channel);
      await silent.closed; // after the hello timeout
      const rude = open(channel);
      rude.socket.write(`${JSON.stringify({ hello: token, worker: 1, pid: 1 })}\n`);
      await until(() => joined.length === 1, "the worker joined");
      rude.socket.write("this is not JSON\n");
      await rude.closed;
      expect(channel.connected).toEqual([]);
    } finally {
      channel.close();
    }
  }, 10_000);
});
