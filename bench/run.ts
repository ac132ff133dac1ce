// End-to-end proxy benchmark: one nginx backend; nginx, HAProxy and Sluice in front of it (each with
// upstream keep-alive and one worker/thread); wrk against the backend directly and through each proxy,
// targets interleaved in every round. Prints medians and Sluice's ratios to the others.
//   bun bench/run.ts [--rounds 3] [--duration 5s] [--connections 50] [--scenario both]   (see --help)
// Everything it writes lives in a temp dir that is removed at the end; every child is stopped by pid.
import { benchLifecycle } from "./lifecycle.ts";
import { chmodSync } from "node:fs";
import { LARGE_BYTES, LARGE_PATH, SMALL_BODY, SMALL_PATH, startBackend } from "./backend.ts";
import { startHaproxy } from "./haproxy.ts";
import { startNginxProxy } from "./nginx.ts";
import { parseOptions, USAGE, type BenchOptions, type ScenarioName } from "./options.ts";
import { childPids, establishedTo, freePort, memoryOf, missingTools, tail, timeWait, waitForHttp, type Child } from "./procs.ts";
import { LEGEND, renderScenario, TARGET_LABELS, type RunRecord, type Scenario, type TargetName } from "./report.ts";
import { startSluice } from "./sluice.ts";
import { runningWrk, runWrk } from "./wrk.ts";

const INSTALL = "apt-get install -y nginx haproxy wrk";
const TARGETS: TargetName[] = ["direct", "nginx", "haproxy", "sluice"];

interface Target {
  name: TargetName;
  /** The port wrk hits. */
  port: number;
  /** The backend port this target's traffic ends at (each target has its own backend listener). */
  backendPort: number;
  /** The process serving `port` (the backend itself for "direct"). */
  child: Child;
}

const lifecycle = benchLifecycle();
function log(line: string): void {
  console.error(line);
}

async function startAll(dir: string, options: BenchOptions): Promise<{ targets: Target[]; sluice: Child; backend: Child }> {
  const [directPort, nginxBackend, haproxyBackend, sluiceBackend, nginxPort, haproxyPort, sluicePort] = await Promise.all(
    Array.from({ length: 7 }, () => freePort()),
  ) as [number, number, number, number, number, number, number];
  const backend = startBackend(dir, [directPort, nginxBackend, haproxyBackend, sluiceBackend], options.backendWorkers);
  const nginx = startNginxProxy(dir, nginxPort, nginxBackend);
  const haproxy = startHaproxy(dir, haproxyPort, haproxyBackend);
  const sluice = startSluice(dir, sluicePort, sluiceBackend);
  const targets: Target[] = [
    { name: "direct", port: directPort, backendPort: directPort, child: backend },
    { name: "nginx", port: nginxPort, backendPort: nginxBackend, child: nginx },
    { name: "haproxy", port: haproxyPort, backendPort: haproxyBackend, child: haproxy },
    { name: "sluice", port: sluicePort, backendPort: sluiceBackend, child: sluice },
  ];
  // Each target must serve both bodies whole before anything is measured.
  for (const t of targets) {
    await waitForHttp(t.child, `http://127.0.0.1:${t.port}${SMALL_PATH}`, SMALL_BODY.length);
    await waitForHttp(t.child, `http://127.0.0.1:${t.port}${LARGE_PATH}`, LARGE_BYTES);
  }
  return { targets, sluice, backend };
}

const SCENARIOS: Record<ScenarioName, { path: string; title: (o: BenchOptions) => string; bytes: boolean }> = {
  small: {
    path: SMALL_PATH,
    bytes: false,
    title: (o) => `Small response: GET ${SMALL_PATH}, ${SMALL_BODY.length}-byte body. wrk -t${o.threads} -c${o.connections} -d${o.duration}, median of ${o.rounds} rounds`,
  },
  large: {
    path: LARGE_PATH,
    bytes: true,
    title: (o) => `Large response: GET ${LARGE_PATH}, ${LARGE_BYTES / 1024 / 1024} MiB body. wrk -t${o.threads} -c${o.connections} -d${o.duration}, median of ${o.rounds} rounds`,
  },
};

/** wrk's duration syntax ("5s", "2m", "500" = seconds) in milliseconds. */
function durationMs(text: string): number {
  const m = /^([\d.]+)([smh]?)$/.exec(text);
  return m ? Number(m[1]) * ({ "": 1000, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2]!]! : 0;
}

function checkAlive(targets: Target[]): void {
  for (const t of targets) {
    if (t.child.exited) throw new Error(`${t.child.name} exited (code ${t.child.exitCode}) during the run:\n${tail(t.child.logPath)}`);
  }
}

interface ScenarioResult {
  scenario: Scenario;
  timeWaitAfterSluice: number[];
  /** Sluice's memory right after the scenario's last run. */
  sluiceMemory: string;
}

async function runScenario(name: ScenarioName, targets: Target[], sluice: Child, options: BenchOptions): Promise<ScenarioResult> {
  const spec = SCENARIOS[name];
  const wrk = { threads: options.threads, connections: options.connections, duration: options.duration };
  const scenario: Scenario = { name, title: spec.title(options), bytes: spec.bytes, runs: [] };
  const timeWaitAfterSluice: number[] = [];
  if (options.warmup !== "0") {
    log(`[${name}] warm-up ${options.warmup} per target`);
    for (const t of targets) await runWrk(`http://127.0.0.1:${t.port}${spec.path}`, { ...wrk, duration: options.warmup });
  }
  for (let round = 1; round <= options.rounds; round++) {
    // Rotate the order every round so no target always runs first (or right after the same neighbour).
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
    for (const t of order) {
      checkAlive(targets);
      const before = { client: timeWait([t.port]), upstream: timeWait([t.backendPort]) };
      let upstreamConns = NaN;
      const sampler = setTimeout(() => (upstreamConns = establishedTo(t.backendPort)), durationMs(options.duration) / 2);
      const result = await runWrk(`http://127.0.0.1:${t.port}${spec.path}`, wrk).finally(() => clearTimeout(sampler));
      const record: RunRecord = {
        round,
        target: t.name,
        result,
        timeWaitClient: timeWait([t.port]) - before.client,
        timeWaitUpstream: timeWait([t.backendPort]) - before.upstream,
        timeWaitAll: timeWait(),
        upstreamConns,
      };
      scenario.runs.push(record);
      if (t.name === "sluice") timeWaitAfterSluice.push(record.timeWaitAll);
      const rate = spec.bytes ? `${(result.bytesPerSec / 1024 / 1024).toFixed(1)} MiB/s` : `${result.requestsPerSec.toFixed(0)} req/s`;
      log(`[${name}] round ${round}/${options.rounds} ${TARGET_LABELS[t.name].padEnd(7)} ${rate.padStart(13)}  p50 ${result.p50ms.toFixed(2)} ms  p99 ${result.p99ms.toFixed(2)} ms  errors ${result.errors}  upstream conns ${upstreamConns}  TIME_WAIT client +${record.timeWaitClient} upstream +${record.timeWaitUpstream} (machine ${record.timeWaitAll})`);
    }
  }
  return { scenario, timeWaitAfterSluice, sluiceMemory: memoryLine("Sluice", [sluice.pid]) };
}

function memoryLine(label: string, pids: number[]): string {
  const mems = pids.map(memoryOf).filter((m) => m !== null);
  if (mems.length === 0) return `${label}: n/a`;
  const rss = mems.reduce((s, m) => s + m.rssMB, 0);
  const peak = mems.reduce((s, m) => s + m.peakMB, 0);
  return `${label}: RSS ${rss.toFixed(1)} MB (peak ${peak.toFixed(1)} MB)`;
}

async function main(): Promise<number> {
  let options: BenchOptions | "help";
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  if (options === "help") return void console.log(USAGE), 0;

  const missing = missingTools(["nginx", "haproxy", "wrk"]);
  if (missing.length > 0) {
    console.error(`bench: missing ${missing.join(", ")}. Install them with:\n  ${INSTALL}`);
    return 1;
  }
  if (missingTools(["ss"]).length > 0) log("bench: `ss` not found (iproute2): TIME_WAIT counts will read n/a");

  const tempDir = lifecycle.makeTemp("sluice-bench-", options.keepTemp);
  // nginx workers drop to an unprivileged user when started as root: they must be able to read the 1 MB file.
  chmodSync(tempDir, 0o755);

  const { targets, sluice, backend } = await startAll(tempDir, options);
  log(`bench: all targets up; ${options.rounds} rounds × ${options.duration} per target per scenario`);

  const results: ScenarioResult[] = [];
  for (const name of options.scenarios) results.push(await runScenario(name, targets, sluice, options));
  checkAlive(targets);

  // Memory after the run, before anything is stopped.
  const nginxChild = targets.find((t) => t.name === "nginx")!.child;
  const haproxyChild = targets.find((t) => t.name === "haproxy")!.child;
  const memory = [
    memoryLine("Sluice (bun)", [sluice.pid]),
    memoryLine("nginx proxy (master + worker)", [nginxChild.pid, ...childPids(nginxChild.pid)]),
    memoryLine("HAProxy", [haproxyChild.pid]),
    memoryLine("backend nginx (master + workers)", [backend.pid, ...childPids(backend.pid)]),
  ];

  console.log("");
  for (const { scenario, timeWaitAfterSluice, sluiceMemory } of results) {
    console.log(renderScenario(scenario, TARGETS));
    console.log(`TIME_WAIT sockets on the whole machine after each Sluice run (ss -tan state time-wait, header excluded): ${timeWaitAfterSluice.join(", ")}`);
    console.log(`${sluiceMemory} after this scenario`);
    console.log("");
  }
  console.log(LEGEND);
  console.log("");
  console.log("Memory after the run:");
  for (const line of memory) console.log(`  ${line}`);
  return 0;
}

await lifecycle.run(main, () => {
  const wrk = runningWrk();
  if (wrk?.pid !== undefined && wrk.exitCode === null) wrk.kill("SIGKILL");
});
