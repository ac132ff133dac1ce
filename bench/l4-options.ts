// Settings of the L4 benchmark: flags first, then BENCH_* environment variables, then defaults.
import { parseArgs } from "node:util";
import { count, warmupOn } from "./option-parsing.ts";

export interface L4Options {
  rounds: number;
  /** Idle connections to hold open through each proxy for the memory figures; 0 skips that part. */
  idle: number;
  /** One short redis-benchmark GET run per target before round 1. */
  warmup: boolean;
  /** Keep the temp dir (configs, logs) for inspection instead of deleting it. */
  keepTemp: boolean;
}

export const L4_USAGE = `Usage: bun bench/l4-run.ts [options]     (or: bun run bench:l4 -- [options])
  --rounds N       rounds, targets interleaved in each (BENCH_ROUNDS, default 3)
  --idle N         idle connections held through each proxy for the memory figures, 0 to skip
                   (BENCH_IDLE, default 10000; fewer if the fd limit cannot hold them, which the run says)
  --no-warmup      skip the short GET run per target before round 1 (BENCH_WARMUP=0)
  --keep-temp      keep the generated configs and logs (BENCH_KEEP_TEMP=1)`;

export function parseL4Options(argv: string[], env: Record<string, string | undefined>): L4Options | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string" },
      idle: { type: "string" },
      "no-warmup": { type: "boolean" },
      "keep-temp": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  return {
    rounds: count("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "3", 1),
    idle: count("--idle", values.idle ?? env.BENCH_IDLE ?? "10000", 0),
    warmup: warmupOn(values["no-warmup"], env),
    // Only "1" turns it on here; the recorded-run flags (option-parsing.ts) also take "true".
    keepTemp: values["keep-temp"] ?? env.BENCH_KEEP_TEMP === "1",
  };
}
