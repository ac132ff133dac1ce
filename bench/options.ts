// Benchmark settings: flags first, then BENCH_* environment variables, then defaults.
import { parseArgs } from "node:util";

export type ScenarioName = "small" | "large" | "c200";
export const SCENARIO_NAMES: readonly ScenarioName[] = ["small", "large", "c200"];
export type TargetName = "direct" | "nginx" | "haproxy" | "sluice" | "sluice-deno";
export const TARGET_NAMES: readonly TargetName[] = ["direct", "nginx", "haproxy", "sluice", "sluice-deno"];

export interface BenchOptions {
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
  /** Proxies on one core, wrk and backend on another (pinning.ts). */
  pinned: boolean;
  /** Keep-alive clients held through each proxy for the memory figures; 0 skips that part. */
  idle: number;
  /** Append the run's tables to bench/RESULTS.md. */
  record: boolean;
  /** A line to put under the recorded section's heading. */
  note: string | undefined;
  /** nginx workers of the backend (the proxies always run one worker/thread). */
  backendWorkers: number;
  /** Keep the temp dir (configs, logs) for inspection instead of deleting it. */
  keepTemp: boolean;
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

function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer of at least ${min}, got "${text}"`);
  return n;
}

function wrkDuration(name: string, text: string, allowZero = false): string {
  if (allowZero && (text === "0" || text === "0s")) return "0";
  if (!/^\d+(\.\d+)?[smh]?$/.test(text) || /^0+(\.0+)?[smh]?$/.test(text)) throw new Error(`${name}: expected a wrk duration like 5s, got "${text}"`);
  return text;
}

/** A comma list of names from `allowed`, in `allowed`'s order; `all` (or the aliases) expands. */
function nameList<T extends string>(name: string, text: string, allowed: readonly T[], aliases: Record<string, readonly T[]> = {}): T[] {
  const picked = new Set<T>();
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    if (part === "all") allowed.forEach((a) => picked.add(a));
    else if (aliases[part]) aliases[part]!.forEach((a) => picked.add(a));
    else if ((allowed as readonly string[]).includes(part)) picked.add(part as T);
    else throw new Error(`${name}: expected ${allowed.join(", ")} or all, got "${part}"`);
  }
  if (picked.size === 0) throw new Error(`${name}: nothing picked from "${text}"`);
  return allowed.filter((a) => picked.has(a));
}

function flag(value: boolean | undefined, env: string | undefined): boolean | undefined {
  if (value !== undefined) return value;
  if (env === undefined || env === "") return undefined;
  return env === "1" || env === "true";
}

export function parseOptions(argv: string[], env: Record<string, string | undefined>): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string" },
      duration: { type: "string" },
      connections: { type: "string" },
      threads: { type: "string" },
      warmup: { type: "string" },
      scenario: { type: "string" },
      targets: { type: "string" },
      pinned: { type: "boolean" },
      unpinned: { type: "boolean" },
      idle: { type: "string" },
      record: { type: "boolean" },
      note: { type: "string" },
      "backend-workers": { type: "string" },
      "keep-temp": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  if (values.pinned && values.unpinned) throw new Error("--pinned and --unpinned: pick one");
  return {
    rounds: count("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "3", 1),
    duration: wrkDuration("--duration", values.duration ?? env.BENCH_DURATION ?? "5s"),
    connections: count("--connections", values.connections ?? env.BENCH_CONNECTIONS ?? "50", 1),
    threads: count("--threads", values.threads ?? env.BENCH_THREADS ?? "1", 1),
    warmup: wrkDuration("--warmup", values.warmup ?? env.BENCH_WARMUP ?? "1s", true),
    scenarios: nameList("--scenario", values.scenario ?? env.BENCH_SCENARIO ?? "all", SCENARIO_NAMES, { both: ["small", "large"] }),
    targets: nameList("--targets", values.targets ?? env.BENCH_TARGETS ?? "all", TARGET_NAMES),
    pinned: values.unpinned ? false : flag(values.pinned, env.BENCH_PINNED) ?? true,
    idle: count("--idle", values.idle ?? env.BENCH_IDLE ?? "1000", 0),
    record: flag(values.record, env.BENCH_RECORD) ?? false,
    note: values.note ?? (env.BENCH_NOTE || undefined),
    backendWorkers: count("--backend-workers", values["backend-workers"] ?? env.BENCH_BACKEND_WORKERS ?? "1", 1),
    keepTemp: flag(values["keep-temp"], env.BENCH_KEEP_TEMP) ?? false,
  };
}
