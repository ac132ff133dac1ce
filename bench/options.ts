// Benchmark settings: flags first, then BENCH_* environment variables, then defaults.
import { parseArgs } from "node:util";
import { count, nameList, RECORDED_RUN_FLAGS, recordedRunOptions, type RecordedRunOptions } from "./option-parsing.ts";

export type ScenarioName = "small" | "large" | "c200";
export const SCENARIO_NAMES: readonly ScenarioName[] = ["small", "large", "c200"];
export type TargetName = "direct" | "nginx" | "haproxy" | "sluice" | "sluice-deno";
export const TARGET_NAMES: readonly TargetName[] = ["direct", "nginx", "haproxy", "sluice", "sluice-deno"];

export interface BenchOptions extends RecordedRunOptions {
  rounds: number;
  /** wrk -d, e.g. "5s". */
  duration: string;
  /** wrk -t / -c (the c200 scenario always uses 200 connections). */
  threads: number;
  connections: number;
  /** A short wrk run per target before round 1 (JIT, pools, page cache); "0" skips it. */
  warmup: string;
  scenarios: ScenarioName[];
  targets: TargetName[];
  /** Keep-alive clients held through each proxy for the memory figures; 0 skips that part. */
  idle: number;
  /** nginx workers of the backend (the proxies always run one worker/thread). */
  backendWorkers: number;
}

export const USAGE = `Usage: bun bench/run.ts [options]     (or: bun run bench -- [options])
  --rounds N          rounds, targets interleaved in each (BENCH_ROUNDS, default 3)
  --duration D        wrk -d per run (BENCH_DURATION, default 5s)
  --connections N     wrk -c of the small and large scenarios (BENCH_CONNECTIONS, default 50)
  --threads N         wrk -t (BENCH_THREADS, default 1)
  --warmup D          wrk warm-up per target before round 1, 0 to skip (BENCH_WARMUP, default 1s)
  --scenario S        small, large, c200 (small body, 200 connections), a comma list of them, or all
                      (BENCH_SCENARIO, default all; "both" = small,large)
  --targets T         comma list of direct, nginx, haproxy, sluice, sluice-deno (BENCH_TARGETS, default all)
  --pinned            proxies on CPU 1, wrk, backend and harness on CPU 0 (the default; BENCH_PINNED=1)
  --unpinned          every process on any CPU (BENCH_PINNED=0)
  --idle N            keep-alive clients held through each proxy for the memory figures, 0 to skip
                      (BENCH_IDLE, default 1000)
  --record            append the tables to bench/RESULTS.md as a dated section (BENCH_RECORD=1)
  --note TEXT         a line under that section's heading, e.g. what the run was for (BENCH_NOTE)
  --backend-workers N nginx workers of the backend (BENCH_BACKEND_WORKERS, default 1)
  --keep-temp         keep the generated configs and logs (BENCH_KEEP_TEMP=1)`;

function wrkDuration(name: string, text: string, allowZero = false): string {
  if (allowZero && (text === "0" || text === "0s")) return "0";
  if (!/^\d+(\.\d+)?[smh]?$/.test(text) || /^0+(\.0+)?[smh]?$/.test(text)) throw new Error(`${name}: expected a wrk duration like 5s, got "${text}"`);
  return text;
}

export function parseOptions(argv: string[], env: Record<string, string | undefined>): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RECORDED_RUN_FLAGS,
      rounds: { type: "string" },
      duration: { type: "string" },
      connections: { type: "string" },
      threads: { type: "string" },
      warmup: { type: "string" },
      scenario: { type: "string" },
      targets: { type: "string" },
      idle: { type: "string" },
      "backend-workers": { type: "string" },
    },
  });
  if (values.help) return "help";
  return {
    ...recordedRunOptions(values, env),
    rounds: count("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "3", 1),
    duration: wrkDuration("--duration", values.duration ?? env.BENCH_DURATION ?? "5s"),
    connections: count("--connections", values.connections ?? env.BENCH_CONNECTIONS ?? "50", 1),
    threads: count("--threads", values.threads ?? env.BENCH_THREADS ?? "1", 1),
    warmup: wrkDuration("--warmup", values.warmup ?? env.BENCH_WARMUP ?? "1s", true),
    // "both" is spelled out in the usage, not offered again when a name is wrong.
    scenarios: nameList("--scenario", values.scenario ?? env.BENCH_SCENARIO ?? "all", SCENARIO_NAMES, { both: ["small", "large"] }, false),
    targets: nameList("--targets", values.targets ?? env.BENCH_TARGETS ?? "all", TARGET_NAMES),
    idle: count("--idle", values.idle ?? env.BENCH_IDLE ?? "1000", 0),
    backendWorkers: count("--backend-workers", values["backend-workers"] ?? env.BENCH_BACKEND_WORKERS ?? "1", 1),
  };
}
