// What plugins and tracing cost per request, side by side in one run: the same Sluice (Bun, pinned to one core)
// in front of the same nginx backend, as four gateways that differ only in what a request pays for on top of
// proxying (plugins-configs.ts): nothing; jwt + rate-limit (local store) + cors on the route; telemetry at
// sampleRatio 1.0, exporting to a local OTLP/HTTP sink that counts the spans and drops them; telemetry at
// sampleRatio 0. wrk offers every gateway the same paced request rate (plugins-load.ts), targets interleaved in
// every round; the CPU per request is the gateway process's user+sys time from /proc over the requests wrk
// completed, median over rounds, and each ratio is the median of the per-round ratios to the bare gateway.
//   bun bench/plugins-run.ts [--rounds 7] [--duration 5s] [--rate 6000] [--record]   (see --help)
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { SMALL_BODY, SMALL_PATH, startBackend } from "./backend.ts";
import { checkAlive, checkMeasurable } from "./child-checks.ts";
import { clockTicks, cpuReading, cpuSecondsBetween } from "./cpu-time.ts";
import { followPinPlan, haveTools, readOptions } from "./entry-start.ts";
import { codeVersion, machine, toolVersions } from "./environment.ts";
import { benchLifecycle } from "./lifecycle.ts";
import { killLoadTool } from "./load-tool.ts";
import { startOtlpSink, type OtlpSink } from "./otlp-sink.ts";
import { describePlan, pinned, type PinPlan } from "./pinning.ts";
import { benchToken, ORIGIN, PLUGINS_TARGET_LABELS, pluginsConfig, pluginsTargetEnv, type PluginsTargetName } from "./plugins-configs.ts";
import { runPacedWrk, writeWrkScript, type PacedLoad } from "./plugins-load.ts";
import { parsePluginsOptions, PLUGINS_USAGE, type PluginsOptions } from "./plugins-options.ts";
import { freePort, startChild, waitForAnswer, type Child } from "./procs.ts";
import { roundOrder, roundsText } from "./rounds.ts";
import { sluiceCommand } from "./sluice-process.ts";
import { fmt, median, renderMarkdown, renderText, times, type Table } from "./tables.ts";

const PLUGINS_PATH = fileURLToPath(new URL("./PLUGINS.md", import.meta.url));
const PREAMBLE = `# Plugins and tracing: CPU per request

## Recorded runs

One section per \`npm run bench:plugins -- --record\` run, newest last. Only the ratios within one section compare.
`;

interface Target {
  name: PluginsTargetName;
  port: number;
  child: Child;
}

/** One measured wrk run against one target. */
interface Run {
  cpuUsPerRequest: number;
  requestsPerSec: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  errors: number;
  /** CPU seconds the rest of the machine used on the gateways' core meanwhile. */
  foreignCpu: number;
}

const lifecycle = benchLifecycle();

/** wrk's duration ("5s", "1m", "30" = seconds) in seconds. */
function durationSeconds(text: string): number {
  const m = /^(\d+)([smh]?)$/.exec(text)!;
  return Number(m[1]) * ({ "": 1, s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2]!]!;
}
const log = (line: string) => console.error(line);

/** Busy ticks of CPU `cpu` so far (user, nice, system, irq, softirq, steal), from /proc/stat. */
function cpuBusyTicks(cpu: string | null): number {
  if (cpu === null) return NaN;
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return NaN;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

async function startTargets(
  dir: string,
  options: PluginsOptions,
  plan: PinPlan,
  sink: OtlpSink,
  backendPort: number,
  headers: Record<string, string>,
): Promise<Target[]> {
  const targets: Target[] = [];
  for (const name of options.targets) {
    const port = await freePort();
    const { command, args, env } = sluiceCommand("bun", dir, `sluice-${name}`, pluginsConfig(name, port, backendPort, sink.url));
    const child = startChild(`sluice-${name}`, ...pinned(plan.proxy, command, args), dir, { ...env, ...pluginsTargetEnv(name) });
    targets.push({ name, port, child });
  }
  for (const t of targets) {
    // The request of the run must pass every plugin: 200, the backend's body, and the CORS answer on the plugins route.
    await waitForAnswer(t.child, `GET ${SMALL_PATH} with the run's headers`, 30_000, async () => {
      const response = await fetch(`http://127.0.0.1:${t.port}${SMALL_PATH}`, { headers, signal: AbortSignal.timeout(2_000) });
      const body = await response.text();
      if (response.status !== 200 || body.length !== SMALL_BODY.length) return `status ${response.status}, ${body.length} bytes`;
      if (t.name === "plugins" && response.headers.get("access-control-allow-origin") !== ORIGIN) return "no CORS answer: the cors plugin did not run";
      return undefined;
    });
    checkMeasurable(t.child, /^bun(\.exe)?$/, plan.proxy);
  }
  return targets;
}

async function measure(t: Target, script: string, load: PacedLoad, plan: PinPlan): Promise<Run> {
  const busyBefore = cpuBusyTicks(plan.proxy);
  const before = cpuReading(t.child.pid);
  const result = await runPacedWrk(`http://127.0.0.1:${t.port}${SMALL_PATH}`, script, load);
  // wrk has exited: give the gateway a moment to finish with its connections, which is part of serving them.
  await sleep(100);
  const cpu = cpuSecondsBetween(before, cpuReading(t.child.pid));
  const foreignCpu = (cpuBusyTicks(plan.proxy) - busyBefore) / clockTicks() - cpu;
  if (result.errors > 0) throw new Error(`${t.name}: ${result.errors} errors or non-2xx answers in a run: the comparison would not be fair\n${result.raw}`);
  return {
    cpuUsPerRequest: (cpu * 1e6) / result.requests,
    requestsPerSec: result.requestsPerSec,
    p50ms: result.p50ms,
    p99ms: result.p99ms,
    requests: result.requests,
    errors: result.errors,
    foreignCpu,
  };
}

/** Waits (a few seconds at most) until the sink stops receiving: the batch processor sends its last spans late. */
async function settledSpans(sink: OtlpSink, expected: number): Promise<number> {
  const deadline = Date.now() + 8_000;
  let last = -1;
  while (Date.now() < deadline && sink.spans() < expected) {
    last = sink.spans();
    await sleep(500);
    if (sink.spans() === last && last > 0 && Date.now() > deadline - 2_000) break;
  }
  return sink.spans();
}

function resultsTable(targets: Target[], runs: Map<PluginsTargetName, Run[]>, seconds: number): Table {
  const bare = runs.get("bare");
  const rows = targets.map((t) => {
    const mine = runs.get(t.name)!;
    const cpu = mine.map((r) => r.cpuUsPerRequest);
    // Round i of this target against round i of the bare gateway: a slow spell of the machine hits both.
    const ratio = bare && t.name !== "bare" ? median(mine.map((r, i) => r.cpuUsPerRequest / bare[i]!.cpuUsPerRequest)) : NaN;
    return [
      PLUGINS_TARGET_LABELS[t.name],
      fmt(median(cpu), 1),
      `${fmt(Math.min(...cpu), 1)}–${fmt(Math.max(...cpu), 1)}`,
      t.name === "bare" ? "1.00×" : times(ratio),
      t.name === "bare" ? "" : `${ratio >= 1 ? "+" : ""}${fmt((ratio - 1) * 100, 1)}%`,
      fmt(median(mine.map((r) => r.requestsPerSec))),
      fmt(median(mine.map((r) => r.p50ms)), 2),
      fmt(median(mine.map((r) => r.p99ms)), 2),
      fmt(Math.max(0, median(mine.map((r) => (r.foreignCpu * 100) / seconds))), 0),
    ];
  });
  return {
    header: ["gateway", "CPU µs/req", "rounds' range", "× bare", "added", "req/s", "p50 ms", "p99 ms", "others on core %"],
    rows,
  };
}

async function main(): Promise<number> {
  const options = readOptions(parsePluginsOptions, PLUGINS_USAGE);
  if (typeof options === "number") return options;
  if (!haveTools(["nginx", "wrk"], "apt-get install -y nginx wrk")) return 1;
  const plan = followPinPlan(options.pinned);
  if (plan === null) return 1;
  const dir = lifecycle.makeTemp("sluice-plugins-bench-", options.keepTemp);
  const started = Date.now();
  const loadavgBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

  const [backendPort, statusPort, sinkPort] = [await freePort(), await freePort(), await freePort()];
  const backend = startBackend(dir, [backendPort], statusPort, 1, plan.load);
  const sink = await startOtlpSink(sinkPort);
  const headers = { authorization: `Bearer ${await benchToken()}`, origin: ORIGIN };
  const targets = await startTargets(dir, options, plan, sink, backendPort, headers);
  const load: PacedLoad = { connections: options.connections, rate: options.rate, duration: options.duration, cpus: plan.load };
  const script = writeWrkScript(dir, headers, load);
  log(`bench: ${targets.length} gateways up, ${describePlan(plan, "wrk, backend, OTLP sink and harness")}`);

  const traced = (t: Target) => t.name === "tracing" || t.name === "tracing-json";
  const tracing = targets.find(traced);
  let tracedRequests = 0;
  if (options.warmup > 0) {
    for (const t of targets) {
      const r = await runPacedWrk(`http://127.0.0.1:${t.port}${SMALL_PATH}`, script, { ...load, duration: `${options.warmup}s` });
      if (traced(t)) tracedRequests += r.requests;
    }
    log(`bench: warmed up (${options.warmup}s per gateway)`);
  }

  const runs = new Map<PluginsTargetName, Run[]>(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const t of roundOrder(targets, round)) {
      const run = await measure(t, script, load, plan);
      runs.get(t.name)!.push(run);
      if (traced(t)) tracedRequests += run.requests;
      checkAlive([backend, ...targets.map((x) => x.child)]);
      log(
        `round ${round} ${t.name.padEnd(11)} ${fmt(run.cpuUsPerRequest, 1).padStart(6)} µs/req  ${fmt(run.requestsPerSec).padStart(6)} req/s  others on the core ${fmt(run.foreignCpu, 2)} s`,
      );
    }
  }
  // The waiting-for-answer probes went through it too (one request each, at most a few).
  const spans = tracing ? await settledSpans(sink, 2 * tracedRequests) : 0;

  const table = resultsTable(targets, runs, durationSeconds(options.duration));
  const facts = [
    `${machine()}; ${toolVersions(["bun", "nginx", "wrk"])}; ${codeVersion()}`,
    `${describePlan(plan, "wrk, the nginx backend, the OTLP sink and the harness")}; the machine was shared with other jobs (load average ${loadavgBefore} at the start)`,
    `wrk -t1 -c${options.connections} -d${options.duration}, ${options.rate > 0 ? `paced to ${fmt(options.rate)} req/s offered to each gateway` : "unpaced"}; GET ${SMALL_PATH} (${SMALL_BODY.length}-byte body) with an HS256 bearer token and an Origin on every request; ${roundsText(options.rounds)}, the order rotated each round${options.warmup > 0 ? `, after ${options.warmup}s of warm-up per gateway` : ""}`,
    "CPU µs/req: the gateway process's user+sys time (/proc, every thread) over the requests wrk completed, median over rounds; × bare: median of the per-round ratios to the bare gateway; others on core: CPU time the rest of the machine used on the gateways' core during a run, in % of the run",
    ...(tracing
      ? [
          `spans received by the OTLP sink: ${fmt(spans)} for ${fmt(tracedRequests)} traced requests (${fmt(spans / Math.max(1, tracedRequests), 2)} per request: a server span and a client span each), in ${fmt(sink.requests())} export requests`,
        ]
      : []),
    ...(options.note ? [options.note] : []),
  ];
  console.log(`\n${facts.map((f) => `- ${f}`).join("\n")}\n\n${renderText(table)}\n`);
  log(`bench: done in ${Math.round((Date.now() - started) / 1000)} s`);
  if (options.record) {
    const heading = `### ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`;
    const section = [heading, facts.map((f) => `- ${f}`).join("\n"), renderMarkdown(table)].join("\n\n");
    if (!existsSync(PLUGINS_PATH)) writeFileSync(PLUGINS_PATH, PREAMBLE);
    writeFileSync(PLUGINS_PATH, `${readFileSync(PLUGINS_PATH, "utf8").trimEnd()}\n\n${section}\n`);
    log(`bench: recorded in ${PLUGINS_PATH}`);
  }
  await sink.stop();
  return 0;
}

await lifecycle.run(main, killLoadTool);
