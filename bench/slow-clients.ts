// `npm run bench:slow` (= bun bench/slow-clients.ts): Sluice under slow and greedy clients, at the size the
// goal names: 300 slowloris connections (a request head trickled one byte a second, replaced when cut) and
// 100 readers that read nothing of 10 MiB answers, while a few real clients make ordinary requests on
// keep-alive connections at a steady pace. Two phases of the same real load: first alone (the reference),
// then with the slow clients. Reported for both: the real clients' latency percentiles, the admin
// listener's /healthz latency, the gateway's peak RSS and CPU time; the slow clients' cost is the second
// phase's peak RSS over the first's (the real load's own garbage is in both). The gateway runs as a child
// process with the default limits, the upstream (bench/stream-upstream.ts: a 10 MiB sparse file by
// sendfile, `ok` for the rest) as another; every client runs in this process.
import { parseArgs } from "node:util";
import { connect, type Socket } from "node:net";
import { benchLifecycle } from "./lifecycle.ts";
import { join } from "node:path";
import { freePort, memoryOf, waitForHttp } from "./procs.ts";
import { startUpstream } from "./stream-servers.ts";
import { makeSparseFile } from "./sparse-file.ts";
import { startSluiceProcess, type SluiceRuntime } from "./sluice-process.ts";
import { watchPeak } from "./memory-peak.ts";
import { cpuReading, cpuSecondsBetween } from "./cpu-time.ts";
import { fmt, renderText, type Table } from "./tables.ts";
import { appendSection } from "./results-file.ts";
import { codeVersion, machine, toolVersions } from "./environment.ts";

const USAGE = `usage: bun bench/slow-clients.ts [options]
  --slowloris N     slowloris connections held (default 300)
  --readers N       readers of a 10 MiB answer that read nothing (default 100)
  --size MIB        the size of the answer the readers ask for, in MiB (default 10)
  --duration S      seconds the real clients are measured while the slow ones are there (default 10)
  --real N          real clients, each one keep-alive connection (default 4)
  --interval MS     each real client's pause between requests (default 10: 100 requests a second each)
  --runtime R       bun or deno (default bun)
  --record          append the results as a dated section to bench/RESULTS.md
  --note TEXT       a line under that section's heading
  --keep-temp       keep the generated config and the gateway's log`;

/** The goals the issue sets for this run. */
const GOAL_LATENCY_MS = 50;
const GOAL_RSS_GROWTH_MB = 50;

interface Options {
  slowloris: number;
  readers: number;
  sizeMiB: number;
  durationS: number;
  real: number;
  intervalMs: number;
  runtime: SluiceRuntime;
  record: boolean;
  note: string | undefined;
  keepTemp: boolean;
}

function readOptions(): Options | undefined {
  const { values } = parseArgs({
    options: {
      slowloris: { type: "string", default: "300" },
      readers: { type: "string", default: "100" },
      size: { type: "string", default: "10" },
      duration: { type: "string", default: "10" },
      real: { type: "string", default: "4" },
      interval: { type: "string", default: "10" },
      runtime: { type: "string", default: "bun" },
      record: { type: "boolean", default: false },
      note: { type: "string" },
      "keep-temp": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const whole = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer of at least ${min}, got "${text}"`);
    return n;
  };
  if (values.runtime !== "bun" && values.runtime !== "deno") throw new Error(`--runtime: expected bun or deno, got "${values.runtime}"`);
  return {
    slowloris: whole("slowloris", values.slowloris, 0),
    readers: whole("readers", values.readers, 0),
    sizeMiB: whole("size", values.size, 1),
    durationS: whole("duration", values.duration, 1),
    real: whole("real", values.real, 1),
    intervalMs: whole("interval", values.interval, 0),
    runtime: values.runtime,
    record: values.record,
    note: values.note,
    keepTemp: values["keep-temp"],
  };
}

/** The value at fraction `p` of sorted `values` (nearest rank). */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/** Slowloris connections kept at `count`: each trickles a head one byte a second and is replaced when cut. */
function slowloris(port: number, count: number) {
  const open = new Set<Socket>();
  let cut = 0;
  let answered408 = 0;
  let stopped = false;
  const start = () => {
    if (stopped) return;
    const socket = connect({ host: "127.0.0.1", port });
    open.add(socket);
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      if (chunk.toString("latin1", 0, 12) === "HTTP/1.1 408") answered408++;
    });
    socket.on("close", () => {
      open.delete(socket);
      if (stopped) return;
      cut++;
      setTimeout(start, 100);
    });
    socket.write("GET / HTTP/1.1\r\nHost: bench.test\r\nX-Slowloris: ");
  };
  for (let i = 0; i < count; i++) start();
  // One byte a second from each, spread over the second.
  let turn = 0;
  const timer = setInterval(() => {
    let i = 0;
    for (const socket of open) if (i++ % 10 === turn) socket.write("a");
    turn = (turn + 1) % 10;
  }, 100);
  return {
    get cut() {
      return cut;
    },
    get answered408() {
      return answered408;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const socket of open) socket.destroy();
    },
  };
}

/** Readers that ask for the big answer and never read a byte of it. */
function unreadDownloads(port: number, count: number) {
  const sockets: Socket[] = [];
  let cut = 0;
  for (let i = 0; i < count; i++) {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    socket.on("close", () => cut++);
    socket.write(`GET /files/big.bin?reader=${i} HTTP/1.1\r\nHost: bench.test\r\n\r\n`);
    socket.pause();
    sockets.push(socket);
  }
  return {
    get cut() {
      return cut;
    },
    stop() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** When a measurement ends (ms since epoch): set later for one whose end is not known at its start. */
interface End {
  at: number;
}

/** Requests on `clients` keep-alive connections until `end`, each client pausing `intervalMs` between its
 *  requests: every latency in ms (sorted), and failures. */
async function realClients(url: string, clients: number, intervalMs: number, end: End): Promise<{ latencies: number[]; failures: number }> {
  const latencies: number[] = [];
  let failures = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end.at) {
        const started = performance.now();
        try {
          const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) });
          const body = await response.text();
          if (response.status !== 200 || body !== "ok\n") failures++;
          else latencies.push(performance.now() - started);
        } catch {
          failures++;
        }
        if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), failures };
}

/** /healthz every 250 ms until `end`: latencies in ms (sorted), and failures. */
async function healthzProbe(url: string, end: End): Promise<{ latencies: number[]; failures: number }> {
  const latencies: number[] = [];
  let failures = 0;
  while (Date.now() < end.at) {
    const started = performance.now();
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await response.arrayBuffer();
      if (response.status === 200) latencies.push(performance.now() - started);
      else failures++;
    } catch {
      failures++;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { latencies: latencies.sort((a, b) => a - b), failures };
}

async function listenerConnections(admin: string): Promise<number> {
  const status = (await (await fetch(`${admin}/status`)).json()) as { listeners: Array<{ kind: string; connections?: number }> };
  return status.listeners.find((l) => l.kind === "http")?.connections ?? 0;
}

/** One phase's figures. */
interface Phase {
  real: { latencies: number[]; failures: number };
  health: { latencies: number[]; failures: number };
  peakMB: number;
  cpuS: number;
}

/** The real clients and the /healthz probe until `end` (by default `durationS` from now), with the gateway's CPU
 *  time; `whileRunning` runs alongside and may set the end. */
async function measure(
  options: Options,
  pid: number,
  url: string,
  admin: string,
  end: End = { at: Date.now() + options.durationS * 1_000 },
  whileRunning: () => Promise<void> = async () => {},
): Promise<Omit<Phase, "peakMB">> {
  const cpuBefore = cpuReading(pid);
  const [real, health] = await Promise.all([realClients(url, options.real, options.intervalMs, end), healthzProbe(admin, end), whileRunning()]);
  return { real, health, cpuS: cpuSecondsBetween(cpuBefore, cpuReading(pid)) };
}

/** Resolves once the gateway's CPU use over a quarter second falls under a tenth of a core (the slow clients'
 *  arrival is over: the readers' answers fill the kernel's buffers, then stall), or after `maxMs`. */
async function calm(pid: number, maxMs: number): Promise<void> {
  const giveUp = Date.now() + maxMs;
  while (Date.now() < giveUp) {
    const before = cpuReading(pid);
    await new Promise((r) => setTimeout(r, 250));
    if (cpuSecondsBetween(before, cpuReading(pid)) < 0.025) return;
  }
}

async function main(options: Options, lifecycle: ReturnType<typeof benchLifecycle>): Promise<number> {
  const dir = lifecycle.makeTemp("sluice-slow-clients-", options.keepTemp);
  makeSparseFile(join(dir, "big.bin"), options.sizeMiB * 1024 * 1024);
  const upstreamPort = await freePort();
  const upstream = startUpstream(dir, upstreamPort, dir, null);
  await waitForHttp(upstream, `http://127.0.0.1:${upstreamPort}/ready`, 3);
  const port = await freePort();
  const adminPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const admin = `http://127.0.0.1:${adminPort}`;
  const child = startSluiceProcess(
    options.runtime,
    dir,
    "sluice",
    {
      listen: `127.0.0.1:${port}`,
      admin: { listen: `127.0.0.1:${adminPort}` },
      accessLog: false,
      pools: { app: { servers: [{ url: `http://127.0.0.1:${upstreamPort}` }] } },
      routes: [{ pool: "app" }],
    },
    null,
  );
  await waitForHttp(child, `${url}/ready`, 3);
  // Warm up: both kinds of answer through every code path, then the idle RSS.
  await realClients(url, options.real, options.intervalMs, { at: Date.now() + 1_000 });
  for (let i = 0; i < 2; i++) await (await fetch(`${url}/files/big.bin`)).arrayBuffer();
  await new Promise((r) => setTimeout(r, 500));
  const idleMB = memoryOf(child.pid)?.rssMB ?? NaN;

  console.error(`bench: ${options.durationS} s of ${options.real} real clients alone…`);
  const alonePeak = watchPeak(child.pid);
  const alone = { ...(await measure(options, child.pid, url, admin)), peakMB: alonePeak.stop().peakMB };

  console.error(
    `bench: the same with ${options.slowloris} slowloris connections and ${options.readers} unread ${options.sizeMiB} MiB downloads against Sluice on ${options.runtime}…`,
  );
  // The peak counts from before the slow clients come: their arrival is part of what they cost. The arrival
  // (connecting, and the readers' answers flowing until the kernel's buffers are full) is measured apart.
  const peak = watchPeak(child.pid);
  const loris = slowloris(port, options.slowloris);
  const readers = unreadDownloads(port, options.readers);
  const wanted = options.slowloris + options.readers;
  const arrivalStart = Date.now();
  const arrivalEnd: End = { at: Infinity };
  const arrival = await measure(options, child.pid, url, admin, arrivalEnd, async () => {
    const settleBy = Date.now() + 10_000;
    while ((await listenerConnections(admin)) < wanted && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 100));
    await calm(child.pid, 10_000);
    arrivalEnd.at = Date.now();
  });
  const arrivalS = (arrivalEnd.at - arrivalStart) / 1_000;
  const heldAtStart = await listenerConnections(admin);
  const slow = { ...(await measure(options, child.pid, url, admin)), peakMB: peak.stop().peakMB };
  const heldAtEnd = await listenerConnections(admin);
  const endMB = memoryOf(child.pid)?.rssMB ?? NaN;
  loris.stop();
  readers.stop();

  const growth = slow.peakMB - alone.peakMB;
  const p = (sorted: number[], q: number) => fmt(percentile(sorted, q), 1);
  const row = (label: string, m: Phase["real"]) => [
    label,
    fmt(m.latencies.length),
    fmt(m.failures),
    p(m.latencies, 0.5),
    p(m.latencies, 0.9),
    p(m.latencies, 0.99),
    p(m.latencies, 1),
  ];
  const latency: Table = {
    header: ["clients", "phase", "answered", "failures", "p50 ms", "p90 ms", "p99 ms", "max ms"],
    rows: [
      ["real", "alone", ...row("", alone.real).slice(1)],
      ["real", `slow clients arriving (${fmt(arrivalS, 1)} s)`, ...row("", arrival.real).slice(1)],
      ["real", "with slow clients", ...row("", slow.real).slice(1)],
      ["/healthz (admin)", "alone", ...row("", alone.health).slice(1)],
      ["/healthz (admin)", `slow clients arriving (${fmt(arrivalS, 1)} s)`, ...row("", arrival.health).slice(1)],
      ["/healthz (admin)", "with slow clients", ...row("", slow.health).slice(1)],
    ],
    left: 2,
  };
  const gateway: Table = {
    header: ["phase", "connections held", "RSS peak MB", "CPU s"],
    rows: [
      ["idle, before", "0", `${fmt(idleMB, 1)} (now)`, ""],
      ["real clients alone", String(options.real), fmt(alone.peakMB, 1), fmt(alone.cpuS, 2)],
      ["slow clients arriving", `→ ${heldAtStart}`, "", fmt(arrival.cpuS, 2)],
      ["with slow clients", `${heldAtStart} → ${heldAtEnd}`, `${fmt(slow.peakMB, 1)} (arrival included)`, fmt(slow.cpuS, 2)],
      ["", "", `${fmt(endMB, 1)} (at the end)`, ""],
    ],
  };
  const p99 = percentile(slow.real.latencies, 0.99);
  const goals: Table = {
    header: ["goal", "measured", "met"],
    rows: [
      [
        `real clients served within ${GOAL_LATENCY_MS} ms (p99, none failed)`,
        `${fmt(p99, 1)} ms, ${slow.real.failures} failed`,
        p99 < GOAL_LATENCY_MS && slow.real.failures === 0 ? "✓" : "✗",
      ],
      [`RSS growth < ${GOAL_RSS_GROWTH_MB} MB (peak with slow clients − peak without)`, `${fmt(growth, 1)} MB`, growth < GOAL_RSS_GROWTH_MB ? "✓" : "✗"],
      [
        `RSS held < ${GOAL_RSS_GROWTH_MB} MB over the peak without (RSS at the end − peak without)`,
        `${fmt(endMB - alone.peakMB, 1)} MB`,
        endMB - alone.peakMB < GOAL_RSS_GROWTH_MB ? "✓" : "✗",
      ],
      ["/healthz answered throughout", `${slow.health.failures} failed`, slow.health.failures === 0 ? "✓" : "✗"],
    ],
  };
  const lines = [
    `- slow clients cut during the run: ${loris.cut} slowloris (${loris.answered408} with a 408: headerTimeout is 10 s), ${readers.cut} readers (sendTimeout is 60 s)`,
    `- real clients: ${options.real} keep-alive connections, ${options.intervalMs} ms between one's requests; ${options.durationS} s per phase`,
  ];
  for (const table of [latency, gateway, goals]) console.log(`\n${renderText(table)}`);
  console.log(`\n${lines.join("\n")}`);
  if (options.record) {
    const path = appendSection({
      heading: `${new Date().toISOString().slice(0, 10)}: slow clients (bench/slow-clients.ts)`,
      facts: [
        machine(),
        `${toolVersions(options.runtime === "bun" ? ["bun"] : ["bun", "deno"])}; Sluice on ${options.runtime}, ${codeVersion()}`,
        `${options.slowloris} slowloris connections (one header byte a second, replaced when cut), ${options.readers} readers of a ${options.sizeMiB} MiB answer that read nothing; default limits; unpinned; the clients in the harness process, the upstream (stream-upstream.ts, sendfile) in its own`,
        ...(options.note ? [options.note] : []),
      ],
      blocks: [
        { title: "Latency of the real clients and of /healthz, without and with the slow clients", tables: [latency] },
        { title: "The gateway", tables: [gateway] },
        { title: "Goals (✓ met, ✗ not met)", tables: [goals], lines },
      ],
    });
    console.error(`bench: recorded in ${path}`);
  }
  return 0;
}

const options = (() => {
  try {
    return readOptions();
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${USAGE}`);
    process.exit(1);
  }
})();
if (options) {
  const lifecycle = benchLifecycle();
  await lifecycle.run(
    () => main(options, lifecycle),
    () => {},
  );
}
