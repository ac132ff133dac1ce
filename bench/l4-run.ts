// L4 (TCP) benchmark: one redis-server; Sluice (`mode: "tcp"` pool, `tcp` listener) and HAProxy (`mode tcp`,
// one thread) in front of it. First the memory of idle connections held open through each proxy, then
// redis-benchmark (GET with 50 clients, pipelined SET) against redis directly and through each proxy,
// targets interleaved in every round. Prints medians, Sluice's ratios, and the memory per connection.
//   bun bench/l4-run.ts [--rounds 3] [--idle 10000] [--no-warmup] [--keep-temp]   (see --help)
// Everything it writes lives in a temp dir that is removed at the end; every child is stopped by pid.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { checkAlive } from "./child-checks.ts";
import { haveTools, readOptions } from "./entry-start.ts";
import type { IdleConnections } from "./idle-connections.ts";
import { openIdle } from "./l4-idle.ts";
import { L4_USAGE, parseL4Options } from "./l4-options.ts";
import { REDIS_TESTS, runRedisBenchmark } from "./l4-redis-benchmark.ts";
import { L4_LABELS, renderMemory, renderTest, type IdleMemory, type L4Run, type L4Target } from "./l4-report.ts";
import { fdLimitOf, hardFdLimit, openFds, redisConfig, redisInfo, startRedis, startTcpHaproxy, startTcpSluice, waitForPong } from "./l4-servers.ts";
import { benchLifecycle } from "./lifecycle.ts";
import { killLoadTool } from "./load-tool.ts";
import { freePort, memoryOf, tail, type Child } from "./procs.ts";
import { printRunTime } from "./results-output.ts";
import { roundOrder } from "./rounds.ts";

const INSTALL = "apt-get install -y redis-server redis-tools haproxy";
const TOOLS = ["redis-server", "redis-benchmark", "redis-cli", "haproxy", "bash"];
const TARGETS: L4Target[] = ["direct", "haproxy", "sluice"];
/** Connections opened and closed through each proxy before its memory baseline (JIT, first allocations). */
const WARMUP_CONNS = 100;

interface Target {
  name: L4Target;
  port: number;
  child: Child;
}

const lifecycle = benchLifecycle();
let idleOpen: IdleConnections | undefined;

function log(line: string): void {
  console.error(line);
}

/** VmRSS / VmHWM of a process in kB (procs.ts reads MB = kB / 1024). */
function memoryKB(pid: number): { rss: number; peak: number } {
  const m = memoryOf(pid);
  return m ? { rss: Math.round(m.rssMB * 1024), peak: Math.round(m.peakMB * 1024) } : { rss: NaN, peak: NaN };
}

function portRangeSize(): number {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    return hi! - lo! + 1;
  } catch {
    return 28_232;
  }
}

/** Wait until redis counts at most `clients` connections (the proxy has closed its upstream ones). */
async function waitForRedisClients(port: number, clients: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let now = redisInfo(port, "connected_clients");
  while (now > clients && Date.now() < deadline) {
    await sleep(200);
    now = redisInfo(port, "connected_clients");
  }
  return now;
}

interface Limits {
  idle: number;
  reasons: string[];
}

/** How many idle connections every process involved can hold: two fds each in a proxy, one in this process. */
function idleThatFits(requested: number, sluice: Child, haproxy: Child, haproxyMaxConn: number, redisPort: number): Limits {
  const margin = 32;
  const caps: Array<[string, number]> = [
    ["this process (one fd per client connection)", fdLimitOf("self") - openFds("self") - margin],
    ["Sluice (two fds per connection)", Math.floor((fdLimitOf(sluice.pid) - openFds(sluice.pid) - margin) / 2)],
    ["HAProxy (two fds per connection)", Math.floor((fdLimitOf(haproxy.pid) - openFds(haproxy.pid) - margin) / 2)],
    ["HAProxy maxconn", haproxyMaxConn - 8],
    ["redis maxclients", Number(redisConfig(redisPort, "maxclients")) - margin],
  ];
  let idle = requested;
  const reasons: string[] = [];
  for (const [what, cap] of caps) {
    if (Number.isFinite(cap) && cap < idle) {
      idle = Math.max(0, cap);
      reasons.push(`${what}: at most ${cap}`);
    }
  }
  // A round number reads better in the table.
  if (idle < requested && idle > 100) idle -= idle % 10;
  return { idle, reasons };
}

async function measureIdle(
  label: string,
  child: Child,
  port: number,
  count: number,
  redisPort: number,
  startKB: number,
  localAddresses: string[],
): Promise<IdleMemory> {
  const clientsBefore = redisInfo(redisPort, "connected_clients");
  const warm = await openIdle(port, WARMUP_CONNS, { localAddresses });
  if (warm.failed > 0) throw new Error(`${label}: ${warm.failed} of ${WARMUP_CONNS} warm-up connections failed (${warm.firstError}):\n${tail(child.logPath)}`);
  await warm.close();
  await waitForRedisClients(redisPort, clientsBefore);
  await sleep(1_000);
  const before = memoryKB(child.pid);

  log(`[idle] ${label}: opening ${count} connections (PING → +PONG each)`);
  idleOpen = await openIdle(port, count, { localAddresses });
  const set = idleOpen;
  log(`[idle] ${label}: ${set.held} held, ${set.failed} failed${set.firstError ? ` (first: ${set.firstError})` : ""} in ${(set.openMs / 1000).toFixed(1)} s`);
  await sleep(2_000);
  checkAlive([child]);
  const held = memoryKB(child.pid);
  const fds = openFds(child.pid);
  const redisClients = redisInfo(redisPort, "connected_clients") - clientsBefore;
  const row: IdleMemory = {
    label,
    startKB,
    beforeKB: before.rss,
    heldKB: held.rss,
    peakKB: held.peak,
    afterCloseKB: NaN,
    held: set.held,
    failed: set.failed,
    dropped: set.droppedWhileHeld,
    fds,
    redisClients,
    openMs: set.openMs,
  };
  log(
    `[idle] ${label}: VmRSS before ${(before.rss / 1024).toFixed(1)} MB, held ${(held.rss / 1024).toFixed(1)} MB (${((held.rss - before.rss) / set.held).toFixed(2)} KB/conn), fds ${fds}, redis counts ${redisClients}`,
  );
  await set.close();
  idleOpen = undefined;
  const left = await waitForRedisClients(redisPort, clientsBefore);
  if (left > clientsBefore) log(`[idle] ${label}: redis still counts ${left - clientsBefore} of its connections 30 s after the clients closed`);
  await sleep(1_000);
  row.afterCloseKB = memoryKB(child.pid).rss;
  return row;
}

async function main(): Promise<number> {
  const startedAt = performance.now();
  const options = readOptions(parseL4Options, L4_USAGE);
  if (typeof options === "number") return options;
  if (!haveTools(TOOLS, INSTALL)) return 1;

  const tempDir = lifecycle.makeTemp("sluice-bench-l4-", options.keepTemp);

  // Open files: a proxy needs two per idle connection, redis one; `ulimit -n` can go up to the hard limit only.
  const hard = hardFdLimit();
  const fds = Math.min(hard, Math.max(2 * options.idle + 1024, 20_000 + 64));
  const redisMaxClients = Math.min(20_000, fds - 64);
  const haproxyMaxConn = Math.min(20_000, Math.floor((fds - 128) / 2));
  if (fds < 2 * options.idle + 1024)
    log(`bench: the hard open-file limit is ${hard}: children get ulimit -n ${fds}, HAProxy maxconn ${haproxyMaxConn}, redis --maxclients ${redisMaxClients}`);

  const [redisPort, sluiceHttpPort, sluicePort, haproxyPort] = (await Promise.all(Array.from({ length: 4 }, () => freePort()))) as [
    number,
    number,
    number,
    number,
  ];
  const redis = startRedis(tempDir, redisPort, redisMaxClients, fds);
  await waitForPong(redis, redisPort);
  const sluice = startTcpSluice(tempDir, sluiceHttpPort, sluicePort, redisPort, fds);
  const haproxy = startTcpHaproxy(tempDir, haproxyPort, redisPort, haproxyMaxConn, fds);
  await waitForPong(sluice, sluicePort);
  await waitForPong(haproxy, haproxyPort);
  const children = [redis, sluice, haproxy];
  const startKB = { sluice: memoryKB(sluice.pid).rss, haproxy: memoryKB(haproxy.pid).rss };
  const targets: Target[] = [
    { name: "direct", port: redisPort, child: redis },
    { name: "haproxy", port: haproxyPort, child: haproxy },
    { name: "sluice", port: sluicePort, child: sluice },
  ];
  log(
    `bench: redis, Sluice and HAProxy answer PING (fd limits: Sluice ${fdLimitOf(sluice.pid)}, HAProxy ${fdLimitOf(haproxy.pid)}, redis ${fdLimitOf(redis.pid)} with maxclients ${redisConfig(redisPort, "maxclients")}, this process ${fdLimitOf("self")})`,
  );

  // 1. Memory of idle connections, on freshly started proxies.
  let memory: string | undefined;
  if (options.idle > 0) {
    const { idle, reasons } = idleThatFits(options.idle, sluice, haproxy, haproxyMaxConn, redisPort);
    if (idle < options.idle) log(`bench: holding ${idle} idle connections, not ${options.idle}: the fd limits allow no more (${reasons.join("; ")})`);
    // Each client connection and each proxy → redis connection takes an ephemeral port from 127.0.0.1;
    // with a small port range, spread the client ends over more loopback addresses.
    const range = portRangeSize();
    const localAddresses = range < 2 * idle + 2_000 ? Array.from({ length: Math.ceil(idle / (range / 2)) }, (_, i) => `127.0.0.${i + 2}`) : [];
    if (localAddresses.length > 0) log(`bench: ephemeral port range has ${range} ports: client connections come from ${localAddresses.join(", ")}`);
    const rows: IdleMemory[] = [];
    rows.push(await measureIdle("Sluice", sluice, sluicePort, idle, redisPort, startKB.sluice, localAddresses));
    rows.push(await measureIdle("HAProxy", haproxy, haproxyPort, idle, redisPort, startKB.haproxy, localAddresses));
    memory = renderMemory(rows, options.idle);
    if (idle < options.idle) memory += `\nHeld ${idle}, not ${options.idle}: ${reasons.join("; ")}.`;
  }

  // 2. Throughput, targets interleaved.
  if (options.warmup) {
    log("[warm-up] redis-benchmark -c 50 -n 20000 -t get per target");
    for (const t of targets) await runRedisBenchmark(t.port, REDIS_TESTS[0]!, ["-c", "50", "-n", "20000", "-t", "get", "-q"]);
  }
  const runs: L4Run[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const test of REDIS_TESTS) {
      for (const t of roundOrder(targets, round)) {
        checkAlive(children);
        const result = await runRedisBenchmark(t.port, test);
        runs.push({ round, test: test.name, target: t.name, result });
        log(
          `[${test.name}] round ${round}/${options.rounds} ${L4_LABELS[t.name].padEnd(7)} ${result.requestsPerSec.toFixed(0).padStart(8)} req/s  p50 ${result.p50ms} ms  (${result.seconds.toFixed(1)} s)`,
        );
      }
    }
  }
  checkAlive(children);
  const after = { sluice: memoryKB(sluice.pid), haproxy: memoryKB(haproxy.pid) };

  console.log("");
  for (const test of REDIS_TESTS) {
    console.log(renderTest(test, runs, TARGETS, options.rounds));
    console.log("");
  }
  console.log("spread: half the max−min range over rounds, relative to the median. Each round runs the targets in a rotated order.");
  console.log(
    `After the throughput runs: Sluice VmRSS ${(after.sluice.rss / 1024).toFixed(1)} MB (peak ${(after.sluice.peak / 1024).toFixed(1)} MB), HAProxy ${(after.haproxy.rss / 1024).toFixed(1)} MB (peak ${(after.haproxy.peak / 1024).toFixed(1)} MB)`,
  );
  if (memory) console.log(`\n${memory}`);
  printRunTime(startedAt);
  return 0;
}

await lifecycle.run(main, async () => {
  killLoadTool();
  await idleOpen?.close().catch(() => {});
});
