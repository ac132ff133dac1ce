// Settings of the streaming benchmark (stream-run.ts): flags first, then BENCH_* environment variables,
// then defaults. The defaults keep a full run under about three minutes on a 2-core machine.
import { parseArgs } from "node:util";
import { count, nameList, RECORDED_RUN_FLAGS, recordedRunOptions, warmupOn, type RecordedRunOptions } from "./option-parsing.ts";

export type StreamScenario = "ws-rtt" | "ws-pipelined" | "download" | "chunked" | "upload";
export const STREAM_SCENARIOS: readonly StreamScenario[] = ["ws-rtt", "ws-pipelined", "download", "chunked", "upload"];
export const WS_SCENARIOS: readonly StreamScenario[] = ["ws-rtt", "ws-pipelined"];
export const TRANSFER_SCENARIOS: readonly StreamScenario[] = ["download", "chunked", "upload"];

/** `sluice-tcp` is Sluice's L4 `tcp` listener in front of the same upstream: the byte pipe the HTTP path is held to. */
export type StreamTarget = "direct" | "sluice-tcp" | "sluice" | "nginx" | "haproxy";
export const STREAM_TARGETS: readonly StreamTarget[] = ["direct", "sluice-tcp", "sluice", "nginx", "haproxy"];

export interface StreamOptions extends RecordedRunOptions {
  rounds: number;
  /** Seconds each WebSocket run sends for. */
  wsSeconds: number;
  /** WebSocket connections doing round trips (one message in flight each). */
  clients: number;
  /** Pipelined variant: connections, and messages each keeps in flight. */
  pipelineClients: number;
  window: number;
  /** Payload bytes of every WebSocket message. */
  messageBytes: number;
  /** Bytes of every upload and download. */
  transferBytes: number;
  scenarios: StreamScenario[];
  targets: StreamTarget[];
  warmup: boolean;
}

export const STREAM_USAGE = `Usage: bun bench/stream-run.ts [options]
  --rounds N          rounds, targets interleaved and rotated in each (BENCH_ROUNDS, default 3)
  --duration S        seconds of every WebSocket run (BENCH_DURATION, default 2)
  --clients N         WebSocket connections doing round trips, one message in flight each (BENCH_CLIENTS, default 50)
  --pipeline CxW      pipelined variant: C connections with W messages in flight each (BENCH_PIPELINE, default 4x64)
  --message-bytes N   payload of every WebSocket message (BENCH_MESSAGE_BYTES, default 64)
  --size SIZE         bytes of every upload and download: 1gib, 256mib, 100mb, or a number (BENCH_SIZE, default 1gib)
  --scenario S        comma list of ws-rtt, ws-pipelined, download, chunked, upload; ws = both WebSocket ones,
                      transfer = the three transfers, all (BENCH_SCENARIO, default all)
  --targets T         comma list of direct, sluice-tcp, sluice, nginx, haproxy (BENCH_TARGETS, default all;
                      the ratios need sluice and sluice-tcp)
  --no-warmup         skip the short run per target and scenario before round 1 (BENCH_WARMUP=0)
  --pinned            proxies on CPU 1; clients, upstream and harness on CPU 0 (the default; BENCH_PINNED=1)
  --unpinned          every process on any CPU (BENCH_PINNED=0)
  --record            append the tables to bench/RESULTS.md as a dated section (BENCH_RECORD=1)
  --note TEXT         a line under that section's heading (BENCH_NOTE)
  --keep-temp         keep the generated configs and logs (BENCH_KEEP_TEMP=1)`;

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** "1gib", "256mib", "100mb", "1048576": bytes. At least 1 MiB, so that a transfer lasts long enough to time. */
export function parseSize(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1024 ** 2) throw new Error(`${name}: expected a size of at least 1mib like 1gib or 256mib, got "${text}"`);
  return bytes;
}

export function parseStreamOptions(argv: string[], env: Record<string, string | undefined>): StreamOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RECORDED_RUN_FLAGS,
      rounds: { type: "string" },
      duration: { type: "string" },
      clients: { type: "string" },
      pipeline: { type: "string" },
      "message-bytes": { type: "string" },
      size: { type: "string" },
      scenario: { type: "string" },
      targets: { type: "string" },
      "no-warmup": { type: "boolean" },
    },
  });
  if (values.help) return "help";
  const recorded = recordedRunOptions(values, env);
  const duration = Number((values.duration ?? env.BENCH_DURATION ?? "2").replace(/s$/, ""));
  if (!(duration > 0 && duration <= 600)) throw new Error(`--duration: expected seconds between 0 and 600, got "${values.duration ?? env.BENCH_DURATION}"`);
  const pipeline = /^(\d+)x(\d+)$/.exec(values.pipeline ?? env.BENCH_PIPELINE ?? "4x64");
  if (!pipeline) throw new Error(`--pipeline: expected CONNECTIONSxWINDOW like 4x64, got "${values.pipeline ?? env.BENCH_PIPELINE}"`);
  return {
    ...recorded,
    rounds: count("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "3", 1),
    wsSeconds: duration,
    clients: count("--clients", values.clients ?? env.BENCH_CLIENTS ?? "50", 1),
    pipelineClients: count("--pipeline connections", pipeline[1]!, 1),
    window: count("--pipeline window", pipeline[2]!, 1),
    messageBytes: count("--message-bytes", values["message-bytes"] ?? env.BENCH_MESSAGE_BYTES ?? "64", 1),
    transferBytes: parseSize("--size", values.size ?? env.BENCH_SIZE ?? "1gib"),
    scenarios: nameList("--scenario", values.scenario ?? env.BENCH_SCENARIO ?? "all", STREAM_SCENARIOS, { ws: WS_SCENARIOS, transfer: TRANSFER_SCENARIOS }),
    targets: nameList("--targets", values.targets ?? env.BENCH_TARGETS ?? "all", STREAM_TARGETS),
    warmup: warmupOn(values["no-warmup"], env),
  };
}
