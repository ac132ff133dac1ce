// Benchmark settings: flags first, then BENCH_* environment variables, then defaults.
import { parseArgs } from "node:util";

export type ScenarioName = "small" | "large";

export interface BenchOptions {
  rounds: number;
  /** wrk -d, e.g. "5s". */
  duration: string;
  /** wrk -t / -c. */
  threads: number;
  connections: number;
  /** A short wrk run per target before round 1 (JIT, pools, page cache); "0" skips it. */
  warmup: string;
  scenarios: ScenarioName[];
  /** nginx workers of the backend (the proxies always run one worker/thread). */
  backendWorkers: number;
  /** Keep the temp dir (configs, logs) for inspection instead of deleting it. */
  keepTemp: boolean;
}

export const USAGE = `Usage: bun bench/run.ts [options]     (or: bun run bench -- [options])
  --rounds N          rounds, targets interleaved in each (BENCH_ROUNDS, default 3)
  --duration D        wrk -d per run (BENCH_DURATION, default 5s)
  --connections N     wrk -c (BENCH_CONNECTIONS, default 50)
  --threads N         wrk -t (BENCH_THREADS, default 1)
  --warmup D          wrk warm-up per target before round 1, 0 to skip (BENCH_WARMUP, default 1s)
  --scenario S        small, large or both (BENCH_SCENARIO, default both)
  --backend-workers N nginx workers of the backend (BENCH_BACKEND_WORKERS, default 1)
  --keep-temp         keep the generated configs and logs (BENCH_KEEP_TEMP=1)`;

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got "${text}"`);
  return n;
}

function wrkDuration(name: string, text: string, allowZero = false): string {
  if (allowZero && (text === "0" || text === "0s")) return "0";
  if (!/^\d+(\.\d+)?[smh]?$/.test(text) || /^0+(\.0+)?[smh]?$/.test(text)) throw new Error(`${name}: expected a wrk duration like 5s, got "${text}"`);
  return text;
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
      "backend-workers": { type: "string" },
      "keep-temp": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const scenario = values.scenario ?? env.BENCH_SCENARIO ?? "both";
  if (!["small", "large", "both"].includes(scenario)) throw new Error(`--scenario: expected small, large or both, got "${scenario}"`);
  return {
    rounds: positive("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "3"),
    duration: wrkDuration("--duration", values.duration ?? env.BENCH_DURATION ?? "5s"),
    connections: positive("--connections", values.connections ?? env.BENCH_CONNECTIONS ?? "50"),
    threads: positive("--threads", values.threads ?? env.BENCH_THREADS ?? "1"),
    warmup: wrkDuration("--warmup", values.warmup ?? env.BENCH_WARMUP ?? "1s", true),
    scenarios: scenario === "both" ? ["small", "large"] : [scenario as ScenarioName],
    backendWorkers: positive("--backend-workers", values["backend-workers"] ?? env.BENCH_BACKEND_WORKERS ?? "1"),
    keepTemp: values["keep-temp"] ?? env.BENCH_KEEP_TEMP === "1",
  };
}
