// Streaming benchmark: what Sluice's HTTP listener does once a request is a stream of bytes, against
// Sluice's own L4 `tcp` listener (a plain byte pipe) in front of the same upstream, and against nginx and
// HAProxy. One Bun upstream (WebSocket echo, a download with a Content-Length, a generated chunked
// download, an upload sink) and the proxies in front of it; WebSocket echo round trips and pipelined
// messages from clients inside this process, downloads by curl and uploads from a raw-socket client in this
// process, directly and through each proxy, targets interleaved in every round. Prints medians, the proxies' CPU per message or per GiB and peak
// memory, and Sluice HTTP's ratios to its TCP pipe; with --record it appends the tables to bench/RESULTS.md.
//   bun bench/stream-run.ts [--rounds 3] [--duration 2] [--size 1gib] [--scenario all] [--record]   (see --help)
// Everything it writes lives in a temp dir that is removed at the end; every child is stopped by pid.
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { checkAlive, checkMeasurable } from "./child-checks.ts";
import { cpuReading, cpuSecondsBetween } from "./cpu-time.ts";
import { runDownload, type DownloadKind, type TransferFile } from "./download-client.ts";
import { followPinPlan, haveTools, readOptions } from "./entry-start.ts";
import { codeVersion, machine, toolVersions } from "./environment.ts";
import { benchLifecycle } from "./lifecycle.ts";
import { killLoadTool } from "./load-tool.ts";
import { watchPeak } from "./memory-peak.ts";
import { describePlan, type PinPlan } from "./pinning.ts";
import { freePort, waitForHttp, type Child } from "./procs.ts";
import type { Block } from "./results-file.ts";
import { printResults, printRunTime, recordResults } from "./results-output.ts";
import { roundOrder, roundsText } from "./rounds.ts";
import { makeSparseFile, readThrough } from "./sparse-file.ts";
import { parseStreamOptions, STREAM_USAGE, WS_SCENARIOS, type StreamOptions, type StreamScenario, type StreamTarget } from "./stream-options.ts";
import { goalsTable, ratioTable, scenarioTable, STREAM_LABELS, STREAM_LEGEND, summarize, type StreamRun } from "./stream-report.ts";
import { startSluiceHttp, startSluiceTcp, startStreamHaproxy, startStreamNginx, startUpstream } from "./stream-servers.ts";
import { treeMemory } from "./tree-memory.ts";
import { runUpload } from "./upload-client.ts";
import { closeAllWsLoads, openWsLoad } from "./ws-client.ts";

const INSTALL = "apt-get install -y nginx haproxy curl";
/** Seconds of the WebSocket warm-up run per target and scenario. */
const WS_WARMUP_SECONDS = 0.5;
/** Size of the warm-up transfer per target and scenario (or the transfer size, if smaller). */
const WARMUP_BYTES = 64 * 1024 * 1024;
/** direct ÷ fastest proxy below this: the load core may be what limits the proxies' rates. */
const LOAD_HEADROOM = 1.2;

interface Target {
  name: StreamTarget;
  port: number;
  /** The process serving `port` (the upstream itself for direct). */
  child: Child;
  /** The executable that must be running as `child.pid` (not a wrapper such as taskset or a shell). */
  executable: RegExp;
}

const lifecycle = benchLifecycle();
const log = (line: string) => console.error(line);

function sizeText(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
  ] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  }
  return `${bytes} bytes`;
}

async function startAll(dir: string, filesDir: string, options: StreamOptions, plan: PinPlan): Promise<{ upstream: Child; targets: Target[] }> {
  const [upstreamPort, sluicePort, tcpHttpPort, tcpPort, nginxPort, haproxyPort] = (await Promise.all(Array.from({ length: 6 }, () => freePort()))) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const upstream = startUpstream(dir, upstreamPort, filesDir, plan.load);
  await waitForHttp(upstream, `http://127.0.0.1:${upstreamPort}/ready`, 3, 30_000);
  // Room for the largest upload and then some: the limit is not what is measured.
  const maxBody = 2 * options.transferBytes;
  const targets = options.targets.map((name): Target => {
    switch (name) {
      case "direct":
        return { name, port: upstreamPort, child: upstream, executable: /^bun(\.exe)?$/ };
      case "sluice-tcp":
        return { name, port: tcpPort, child: startSluiceTcp(dir, tcpHttpPort, tcpPort, upstreamPort, plan.proxy), executable: /^bun(\.exe)?$/ };
      case "sluice":
        return { name, port: sluicePort, child: startSluiceHttp(dir, sluicePort, upstreamPort, maxBody, plan.proxy), executable: /^bun(\.exe)?$/ };
      case "nginx":
        return { name, port: nginxPort, child: startStreamNginx(dir, nginxPort, upstreamPort, plan.proxy), executable: /^nginx$/ };
      case "haproxy":
        return { name, port: haproxyPort, child: startStreamHaproxy(dir, haproxyPort, upstreamPort, plan.proxy), executable: /^haproxy$/ };
    }
  });
  for (const t of targets) {
    await waitForHttp(t.child, `http://127.0.0.1:${t.port}/ready`, 3, 30_000);
    checkMeasurable(t.child, t.executable, t.name === "direct" ? plan.load : plan.proxy);
  }
  return { upstream, targets };
}

interface Plan {
  options: StreamOptions;
  plan: PinPlan;
  transfer: TransferFile;
  warmup: TransferFile;
}

/** One measured run of `scenario` against `t`: the load, with the target's CPU time and peak memory around it. */
async function measuredRun(scenario: StreamScenario, t: Target, round: number, p: Plan, seconds: number, file: TransferFile): Promise<StreamRun> {
  const { options } = p;
  const base = { scenario, round, target: t.name };
  if (WS_SCENARIOS.includes(scenario)) {
    const pipelined = scenario === "ws-pipelined";
    const connections = pipelined ? options.pipelineClients : options.clients;
    let load;
    try {
      // Connections are opened before the measurement: the handshakes are not what it is about.
      load = await openWsLoad(`ws://127.0.0.1:${t.port}/echo`, connections, options.messageBytes);
    } catch (error) {
      return {
        ...base,
        units: 0,
        seconds: 0,
        rate: NaN,
        p50ms: NaN,
        p99ms: NaN,
        errors: connections,
        firstError: (error as Error).message,
        cpuSeconds: NaN,
        rssStartMB: NaN,
        rssPeakMB: NaN,
      };
    }
    try {
      const cpuBefore = cpuReading(t.child.pid);
      const peak = watchPeak(t.child.pid);
      const result = await load.run(seconds, pipelined ? options.window : 1);
      const cpuAfter = cpuReading(t.child.pid);
      const { peakMB } = peak.stop();
      return {
        ...base,
        units: result.messages,
        seconds: result.seconds,
        rate: result.perSec,
        p50ms: result.p50ms,
        p99ms: result.p99ms,
        errors: result.errors,
        firstError: result.firstError,
        cpuSeconds: cpuSecondsBetween(cpuBefore, cpuAfter),
        rssStartMB: peak.startMB,
        rssPeakMB: peakMB,
      };
    } finally {
      await load.close();
    }
  }
  const cpuBefore = cpuReading(t.child.pid);
  const peak = watchPeak(t.child.pid);
  const result = scenario === "upload" ? await runUpload(t.port, file.bytes) : await runDownload(scenario as DownloadKind, t.port, file, p.plan.load);
  // The transfer is over: give the target a moment to finish closing its connections, which is part of serving them.
  await sleep(100);
  const cpuAfter = cpuReading(t.child.pid);
  const { peakMB } = peak.stop();
  return {
    ...base,
    units: result.bytes,
    seconds: result.seconds,
    rate: result.bytesPerSec,
    p50ms: NaN,
    p99ms: NaN,
    errors: result.error ? 1 : 0,
    firstError: result.error,
    cpuSeconds: cpuSecondsBetween(cpuBefore, cpuAfter),
    rssStartMB: peak.startMB,
    rssPeakMB: peakMB,
  };
}

function describeRun(r: StreamRun): string {
  const ws = WS_SCENARIOS.includes(r.scenario);
  const rate = ws ? `${Math.round(r.rate).toLocaleString("en-US")} msg/s` : `${(r.rate / 1024 ** 2).toFixed(1)} MiB/s`;
  const latency = ws ? `  p50 ${r.p50ms.toFixed(3)} ms  p99 ${r.p99ms.toFixed(3)} ms` : `  ${r.seconds.toFixed(2)} s`;
  const cpu = ws ? `${((r.cpuSeconds * 1e6) / r.units).toFixed(2)} µs/msg` : `${(r.cpuSeconds / (r.units / 1024 ** 3)).toFixed(2)} s/GiB`;
  return `${rate.padStart(16)}${latency}  CPU ${cpu}  RSS ${r.rssStartMB.toFixed(1)} → peak ${r.rssPeakMB.toFixed(1)} MB  errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ""}`;
}

const TITLES: Record<StreamScenario, (o: StreamOptions) => string> = {
  "ws-rtt": (o) =>
    `WebSocket round trips: ${o.clients} connections, one ${o.messageBytes}-byte binary message in flight on each, ${o.wsSeconds} s per run, median of ${roundsText(o.rounds)}`,
  "ws-pipelined": (o) =>
    `WebSocket pipelined: ${o.pipelineClients} connections with ${o.window} ${o.messageBytes}-byte binary messages in flight on each, ${o.wsSeconds} s per run, median of ${roundsText(o.rounds)}`,
  download: (o) =>
    `Download: GET of ${sizeText(o.transferBytes)} with a Content-Length (a sparse file the upstream sends with sendfile), curl, median of ${roundsText(o.rounds)}`,
  chunked: (o) =>
    `Chunked download: GET of ${sizeText(o.transferBytes)} generated by the upstream in 64 KiB chunks, Transfer-Encoding: chunked, curl, median of ${roundsText(o.rounds)}`,
  upload: (o) =>
    `Upload: PUT of ${sizeText(o.transferBytes)} with a Content-Length from a raw-socket client in the harness, counted and dropped by the upstream, median of ${roundsText(o.rounds)}`,
};

async function runScenario(scenario: StreamScenario, targets: Target[], children: Child[], p: Plan): Promise<StreamRun[]> {
  const { options } = p;
  if (options.warmup) {
    log(`[${scenario}] warm-up per target`);
    for (const t of targets) {
      const warm = await measuredRun(scenario, t, 0, p, WS_WARMUP_SECONDS, p.warmup);
      if (warm.errors > 0) log(`[${scenario}] warm-up ${STREAM_LABELS[t.name]}: ${warm.errors} errors (${warm.firstError})`);
    }
  }
  const runs: StreamRun[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const t of roundOrder(targets, round)) {
      checkAlive(children);
      const run = await measuredRun(scenario, t, round, p, options.wsSeconds, p.transfer);
      runs.push(run);
      log(`[${scenario}] round ${round}/${options.rounds} ${STREAM_LABELS[t.name].padEnd(15)} ${describeRun(run)}`);
    }
  }
  checkAlive(children);
  return runs;
}

function memoryLine(t: Target): string {
  const memory = treeMemory(t.child.pid);
  const label = t.name === "direct" ? "upstream (Bun)" : STREAM_LABELS[t.name];
  if (!memory) return `${label}: n/a`;
  // Every measured run resets the peak (memory-peak.ts): this one is the last run's, not the process's.
  return `${label}: RSS ${memory.rssMB.toFixed(1)} MB (peak since the last reset ${memory.peakMB.toFixed(1)} MB)`;
}

/** Lines that say when the load core, not the proxy, may have set the pace. */
function headroomLines(runs: StreamRun[], scenarios: StreamScenario[], targets: StreamTarget[]): string[] {
  if (!targets.includes("direct") || targets.length < 2) return [];
  const lines: string[] = [];
  for (const scenario of scenarios) {
    const summaries = summarize(runs, scenario, targets);
    const direct = summaries.find((s) => s.target === "direct")!.rate;
    const fastest = Math.max(
      ...summaries
        .filter((s) => s.target !== "direct")
        .map((s) => s.rate)
        .filter(Number.isFinite),
    );
    if (direct / fastest < LOAD_HEADROOM)
      lines.push(
        `${scenario}: direct is only ${(direct / fastest).toFixed(2)}× the fastest proxy: the clients and upstream on the load core may be the limit here, so the proxies' rates read closer together than their costs are (compare CPU instead)`,
      );
  }
  return lines;
}

async function main(): Promise<number> {
  const startedAt = performance.now();
  const options = readOptions(parseStreamOptions, STREAM_USAGE);
  if (typeof options === "number") return options;
  const proxyTools = (["nginx", "haproxy"] as const).filter((t) => options.targets.includes(t));
  if (!haveTools(["curl", ...proxyTools], INSTALL)) return 1;
  const plan = followPinPlan(options.pinned);
  if (!plan) return 1;

  const tempDir = lifecycle.makeTemp("sluice-bench-stream-", options.keepTemp);
  // nginx workers drop to an unprivileged user when started as root: they must reach their temp paths.
  chmodSync(tempDir, 0o755);
  const filesDir = join(tempDir, "files");
  mkdirSync(filesDir);
  const transfer: TransferFile = { path: join(filesDir, "transfer.bin"), bytes: options.transferBytes };
  const warmup: TransferFile = { path: join(filesDir, "warmup.bin"), bytes: Math.min(WARMUP_BYTES, options.transferBytes) };
  makeSparseFile(transfer.path, transfer.bytes);
  makeSparseFile(warmup.path, warmup.bytes);
  if (options.scenarios.some((s) => !WS_SCENARIOS.includes(s))) for (const file of [transfer, warmup]) readThrough(file.path);

  const mode = describePlan(plan, "clients, upstream and harness");
  const facts = [mode, toolVersions(["bun", ...proxyTools, "curl"]), machine(), codeVersion()];
  for (const f of facts) log(`bench: ${f}`);

  const { upstream, targets } = await startAll(tempDir, filesDir, options, plan);
  const children = [upstream, ...targets.map((t) => t.child)];
  log(`bench: all targets up; ${roundsText(options.rounds)}, scenarios ${options.scenarios.join(", ")}`);
  const p: Plan = { options, plan, transfer, warmup };

  const runs: StreamRun[] = [];
  for (const scenario of options.scenarios) runs.push(...(await runScenario(scenario, targets, children, p)));
  const afterRuns = targets.map(memoryLine);

  const blocks: Block[] = options.scenarios.map((scenario) => ({ title: TITLES[scenario](options), tables: [scenarioTable(runs, scenario, options.targets)] }));
  const ratios = ratioTable(runs, options.scenarios, options.targets);
  const headroom = headroomLines(runs, options.scenarios, options.targets);
  if (ratios)
    blocks.push({ title: "Sluice HTTP's ratios (rate: ≥ 1 is better for Sluice; CPU: ≤ 1 is better)", tables: [ratios], lines: headroom.map((l) => `- ${l}`) });
  const goals = goalsTable(runs, options.scenarios, options.targets);
  if (goals) blocks.push({ title: "The HTTP engine's streaming goals in this run (✓ met, ✗ not met)", tables: [goals] });
  const failures = runs
    .filter((r) => r.errors > 0)
    .map((r) => `- ${r.scenario}, round ${r.round}, ${STREAM_LABELS[r.target]}: ${r.errors} errors, first: ${r.firstError}`);
  if (failures.length > 0) blocks.push({ title: "Runs with errors", tables: [], lines: failures });
  blocks.push({ title: "Memory after the runs", tables: [], lines: afterRuns.map((l) => `- ${l}`) });

  printResults(facts, blocks, STREAM_LEGEND);
  const seconds = printRunTime(startedAt);

  if (options.record) {
    const settings = `${roundsText(options.rounds)}; WebSocket ${options.wsSeconds} s per run, ${options.clients} round-trip connections, pipelined ${options.pipelineClients}×${options.window}, ${options.messageBytes}-byte messages; transfers of ${sizeText(options.transferBytes)}; warm-up ${options.warmup ? "on" : "off"}; scenarios ${options.scenarios.join(", ")}; the run took ${seconds.toFixed(0)} s`;
    recordResults(
      `streaming (\`stream-run.ts\`), ${plan.proxy === null ? "unpinned" : "pinned"}, ${roundsText(options.rounds)}`,
      options.note,
      [...facts, settings],
      blocks,
    );
  }
  return 0;
}

await lifecycle.run(main, async () => {
  killLoadTool();
  await closeAllWsLoads();
});
