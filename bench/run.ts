// End-to-end proxy benchmark: one nginx backend; nginx, HAProxy and Sluice (on Bun and on Deno) in front of
// it, each with upstream keep-alive, one worker/thread and the same route table; wrk against the backend
// directly and through each proxy, targets interleaved in every round. Prints medians, CPU per request,
// upstream connection churn, memory under 1,000 idle clients and Sluice's ratios to the others; with
// --record it appends the tables to bench/RESULTS.md.
//   bun bench/run.ts [--rounds 3] [--duration 5s] [--scenario all] [--unpinned] [--record]   (see --help)
// Everything it writes lives in a temp dir that is removed at the end; every child is stopped by pid.
import { chmodSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { LARGE_BYTES, LARGE_PATH, SMALL_BODY, SMALL_PATH, startBackend } from "./backend.ts";
import { backendAccepts, connectionsOpened } from "./backend-status.ts";
import { checkAlive, checkMeasurable } from "./child-checks.ts";
import { cpuReading, cpuSecondsBetween } from "./cpu-time.ts";
import { followPinPlan, haveTools, readOptions } from "./entry-start.ts";
import { codeVersion, machine, toolVersions } from "./environment.ts";
import { goalsTable } from "./goals.ts";
import { startHaproxy } from "./haproxy.ts";
import { closeHeldClients, measureIdleMemory, memoryTable, type IdleMemory } from "./idle-memory.ts";
import { benchLifecycle } from "./lifecycle.ts";
import { killLoadTool } from "./load-tool.ts";
import { startNginxProxy } from "./nginx.ts";
import { parseOptions, USAGE, type BenchOptions, type ScenarioName, type TargetName } from "./options.ts";
import { describePlan, type PinPlan } from "./pinning.ts";
import { establishedTo, freePort, missingTools, timeWait, waitForHttp, type Child } from "./procs.ts";
import { cpuPerRequest, LEGEND, ratioTable, scenarioTable, TARGET_LABELS, type RunRecord, type Scenario } from "./report.ts";
import type { Block } from "./results-file.ts";
import { printResults, printRunTime, recordResults } from "./results-output.ts";
import { roundOrder, roundsText } from "./rounds.ts";
import { startSluice } from "./sluice.ts";
import { fmt, type Table } from "./tables.ts";
import { treeMemory } from "./tree-memory.ts";
import { runWrk, type WrkOptions } from "./wrk.ts";

const INSTALL = "apt-get install -y nginx haproxy wrk";

interface Target {
  name: TargetName;
  /** The port wrk hits. */
  port: number;
  /** The backend port this target's traffic ends at (each target has its own backend listener). */
  backendPort: number;
  /** The process serving `port` (the backend itself for "direct"). */
  child: Child;
  /** The executable that must be running as `child.pid` (not a wrapper such as npm, sh or taskset). */
  executable: RegExp;
}

interface Bench {
  targets: Target[];
  backend: Child;
  statusPort: number;
}

const lifecycle = benchLifecycle();
function log(line: string): void {
  console.error(line);
}

async function startAll(dir: string, options: BenchOptions, plan: PinPlan): Promise<Bench> {
  const wanted = (name: TargetName) => options.targets.includes(name);
  // One port per target and one for its backend listener, plus the status listener and a port nothing
  // listens on, where the decoy routes lead.
  const ports = await Promise.all(Array.from({ length: 12 }, () => freePort()));
  const take = () => ports.pop()!;
  const statusPort = take();
  const decoyPort = take();
  const plans: { name: TargetName; port: number; backendPort: number }[] = options.targets.map((name) => {
    const port = take();
    return { name, port, backendPort: name === "direct" ? port : take() };
  });
  const backend = startBackend(
    dir,
    plans.map((p) => p.backendPort),
    statusPort,
    options.backendWorkers,
    plan.load,
  );
  const targets: Target[] = plans.map(({ name, port, backendPort }) => {
    switch (name) {
      case "direct":
        return { name, port, backendPort, child: backend, executable: /^nginx$/ };
      case "nginx":
        return { name, port, backendPort, child: startNginxProxy(dir, port, backendPort, decoyPort, plan.proxy), executable: /^nginx$/ };
      case "haproxy":
        return { name, port, backendPort, child: startHaproxy(dir, port, backendPort, decoyPort, plan.proxy), executable: /^haproxy$/ };
      case "sluice":
        return { name, port, backendPort, child: startSluice(dir, "bun", port, backendPort, decoyPort, plan.proxy), executable: /^bun(\.exe)?$/ };
      case "sluice-deno":
        return { name, port, backendPort, child: startSluice(dir, "deno", port, backendPort, decoyPort, plan.proxy), executable: /^deno$/ };
    }
  });
  if (!wanted("direct")) await waitForHttp(backend, `http://127.0.0.1:${plans[0]!.backendPort}${SMALL_PATH}`, SMALL_BODY.length);
  // Each target must serve both bodies whole before anything is measured.
  for (const t of targets) {
    await waitForHttp(t.child, `http://127.0.0.1:${t.port}${SMALL_PATH}`, SMALL_BODY.length, 30_000);
    await waitForHttp(t.child, `http://127.0.0.1:${t.port}${LARGE_PATH}`, LARGE_BYTES);
    checkMeasurable(t.child, t.executable, t.name === "direct" ? plan.load : plan.proxy);
  }
  await backendAccepts(statusPort);
  return { targets, backend, statusPort };
}

interface ScenarioSpec {
  path: string;
  bytes: boolean;
  connections: (o: BenchOptions) => number;
  title: (o: BenchOptions, connections: number) => string;
}

const SCENARIOS: Record<ScenarioName, ScenarioSpec> = {
  small: {
    path: SMALL_PATH,
    bytes: false,
    connections: (o) => o.connections,
    title: (o, c) =>
      `Small response: GET ${SMALL_PATH}, ${SMALL_BODY.length}-byte body. wrk -t${o.threads} -c${c} -d${o.duration}, median of ${roundsText(o.rounds)}`,
  },
  large: {
    path: LARGE_PATH,
    bytes: true,
    connections: (o) => o.connections,
    title: (o, c) =>
      `Large response: GET ${LARGE_PATH}, ${LARGE_BYTES / 1024 / 1024} MiB body. wrk -t${o.threads} -c${c} -d${o.duration}, median of ${roundsText(o.rounds)}`,
  },
  c200: {
    path: SMALL_PATH,
    bytes: false,
    connections: () => 200,
    title: (o, c) =>
      `${c} clients: GET ${SMALL_PATH}, ${SMALL_BODY.length}-byte body. wrk -t${o.threads} -c${c} -d${o.duration}, median of ${roundsText(o.rounds)}`,
  },
};

/** wrk's duration syntax ("5s", "2m", "500" = seconds) in milliseconds. */
function durationMs(text: string): number {
  const m = /^([\d.]+)([smh]?)$/.exec(text);
  return m ? Number(m[1]) * ({ "": 1000, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2]!]! : 0;
}

/** One wrk run against `t`, with the CPU, connection and TIME_WAIT figures around it. */
async function measuredRun(t: Target, bench: Bench, url: string, wrk: WrkOptions, round: number): Promise<RunRecord> {
  const before = { client: timeWait([t.port]), upstream: timeWait([t.backendPort]) };
  const acceptsBefore = await backendAccepts(bench.statusPort);
  const cpuBefore = cpuReading(t.child.pid);
  let upstreamConns = NaN;
  const sampler = setTimeout(() => (upstreamConns = establishedTo(t.backendPort)), durationMs(wrk.duration) / 2);
  const result = await runWrk(url, wrk).finally(() => clearTimeout(sampler));
  // wrk has exited: give the target a moment to finish closing its connections, which is part of serving them.
  await sleep(100);
  const cpuAfter = cpuReading(t.child.pid);
  const acceptsAfter = await backendAccepts(bench.statusPort);
  return {
    round,
    target: t.name,
    result,
    cpuSeconds: cpuSecondsBetween(cpuBefore, cpuAfter),
    upstreamOpened: connectionsOpened(acceptsBefore, acceptsAfter),
    timeWaitClient: timeWait([t.port]) - before.client,
    timeWaitUpstream: timeWait([t.backendPort]) - before.upstream,
    timeWaitAll: timeWait(),
    upstreamConns,
  };
}

async function runScenario(name: ScenarioName, bench: Bench, options: BenchOptions, plan: PinPlan): Promise<Scenario> {
  const spec = SCENARIOS[name];
  const connections = spec.connections(options);
  const wrk: WrkOptions = { threads: options.threads, connections, duration: options.duration, cpus: plan.load };
  const scenario: Scenario = { name, title: spec.title(options, connections), bytes: spec.bytes, runs: [] };
  const children = [bench.backend, ...bench.targets.map((t) => t.child)];
  if (options.warmup !== "0") {
    log(`[${name}] warm-up ${options.warmup} per target`);
    for (const t of bench.targets) await runWrk(`http://127.0.0.1:${t.port}${spec.path}`, { ...wrk, duration: options.warmup });
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (const t of roundOrder(bench.targets, round)) {
      checkAlive(children);
      const record = await measuredRun(t, bench, `http://127.0.0.1:${t.port}${spec.path}`, wrk, round);
      scenario.runs.push(record);
      const { result } = record;
      const rate = spec.bytes ? `${(result.bytesPerSec / 1024 / 1024).toFixed(1)} MiB/s` : `${result.requestsPerSec.toFixed(0)} req/s`;
      log(
        `[${name}] round ${round}/${options.rounds} ${TARGET_LABELS[t.name].padEnd(13)} ${rate.padStart(13)}  p50 ${result.p50ms.toFixed(2)} ms  p99 ${result.p99ms.toFixed(2)} ms  errors ${result.errors}  CPU ${cpuPerRequest(record).toFixed(2)} µs/req  upstream opened ${record.upstreamOpened} (open mid-run ${record.upstreamConns})  TIME_WAIT client +${record.timeWaitClient} upstream +${record.timeWaitUpstream} (machine ${record.timeWaitAll})`,
      );
    }
  }
  return scenario;
}

function memoryLine(t: Target): string {
  const memory = treeMemory(t.child.pid);
  const label = t.name === "direct" ? "backend nginx (master + workers)" : t.name === "nginx" ? "nginx (master + worker)" : TARGET_LABELS[t.name];
  if (!memory) return `${label}: n/a`;
  return `${label}: RSS ${memory.rssMB.toFixed(1)} MB (peak ${memory.peakMB.toFixed(1)} MB)`;
}

async function main(): Promise<number> {
  const startedAt = performance.now();
  const options = readOptions(parseOptions, USAGE);
  if (typeof options === "number") return options;
  if (!haveTools(["nginx", "haproxy", "wrk"], INSTALL)) return 1;
  if (missingTools(["ss"]).length > 0) log("bench: `ss` not found (iproute2): TIME_WAIT counts will read n/a");
  const plan = followPinPlan(options.pinned);
  if (!plan) return 1;

  const tempDir = lifecycle.makeTemp("sluice-bench-", options.keepTemp);
  // nginx workers drop to an unprivileged user when started as root: they must be able to read the 1 MB file.
  chmodSync(tempDir, 0o755);

  const mode = describePlan(plan, "wrk, backend and harness");
  const versions = toolVersions(["bun", ...(options.targets.includes("sluice-deno") ? (["deno"] as const) : []), "nginx", "haproxy", "wrk"]);
  const facts = [`${mode}`, `${versions}`, `${machine()}`, `${codeVersion()}`];
  for (const f of facts) log(`bench: ${f}`);

  const bench = await startAll(tempDir, options, plan);
  log(`bench: all targets up; ${options.rounds} rounds × ${options.duration} per target per scenario`);

  // Memory of idle keep-alive clients first, on freshly started proxies: after the throughput runs their
  // allocators would still hold the memory of the runs' own connections and bodies, hiding the clients' cost.
  const idle: IdleMemory[] = [];
  if (options.idle > 0) {
    for (const t of bench.targets.filter((t) => t.name !== "direct")) {
      log(`[idle] ${TARGET_LABELS[t.name]}: opening ${options.idle} keep-alive clients (one GET ${SMALL_PATH} each, then silent)`);
      const row = await measureIdleMemory(TARGET_LABELS[t.name], t.child.pid, t.port, SMALL_PATH, options.idle);
      idle.push(row);
      log(
        `[idle] ${row.label}: RSS ${row.beforeMB.toFixed(1)} MB → ${row.heldMB.toFixed(1)} MB holding ${row.held}; ${row.failed} failed, ${row.dropped} dropped${row.firstError ? ` (first: ${row.firstError})` : ""}`,
      );
      checkAlive([t.child]);
    }
  }

  const scenarios: Scenario[] = [];
  for (const name of options.scenarios) scenarios.push(await runScenario(name, bench, options, plan));
  checkAlive([bench.backend, ...bench.targets.map((t) => t.child)]);
  const afterRuns = bench.targets.map(memoryLine);

  const blocks: Block[] = scenarios.map((scenario) => {
    const tables: Table[] = [scenarioTable(scenario, options.targets)];
    const ratios = ratioTable(scenario, options.targets);
    if (ratios) tables.push(ratios);
    return { title: scenario.title, tables };
  });
  if (idle.length > 0) {
    blocks.push({
      title: `Memory: ${fmt(options.idle)} idle keep-alive clients per proxy, on freshly started proxies (VmRSS of the process tree)`,
      tables: [memoryTable(idle)],
    });
  }
  blocks.push({ title: "Memory after the throughput runs", tables: [], lines: afterRuns.map((l) => `- ${l}`) });
  const goals = goalsTable(scenarios, options.targets, idle, plan.proxy !== null);
  if (goals) blocks.push({ title: "The HTTP engine's goals in this run (✓ met, ✗ not met)", tables: [goals] });

  printResults(facts, blocks, LEGEND);
  const seconds = printRunTime(startedAt);

  if (options.record) {
    const settings = `${roundsText(options.rounds)} × ${options.duration} per target, wrk -t${options.threads}, warm-up ${options.warmup}, scenarios ${options.scenarios.join(", ")}, backend workers ${options.backendWorkers}; the run took ${seconds.toFixed(0)} s`;
    recordResults(
      `${plan.proxy === null ? "unpinned" : "pinned"}, ${roundsText(options.rounds)} × ${options.duration}`,
      options.note,
      [...facts, settings],
      blocks,
    );
  }
  return 0;
}

await lifecycle.run(main, async () => {
  killLoadTool();
  await closeHeldClients();
});
