// Settings of the plugins benchmark (plugins-run.ts): flags first, then BENCH_* environment variables, then
// defaults.
import { parseArgs } from "node:util";
import { count, nameList, RECORDED_RUN_FLAGS, recordedRunOptions, type RecordedRunOptions } from "./option-parsing.ts";
import { DEFAULT_PLUGINS_TARGETS, PLUGINS_TARGETS, type PluginsTargetName } from "./plugins-configs.ts";

export interface PluginsOptions extends RecordedRunOptions {
  rounds: number;
  /** wrk -d of every measured run. */
  duration: string;
  /** wrk -c. */
  connections: number;
  /** The request rate every target is offered (req/s), the same for all; 0: as fast as wrk goes. */
  rate: number;
  /** Seconds of load per target before round 1. */
  warmup: number;
  targets: PluginsTargetName[];
}

export const PLUGINS_USAGE = `Usage: bun bench/plugins-run.ts [options]     (or: npm run bench:plugins -- [options])
  --rounds N        rounds, every target once in each (BENCH_ROUNDS, default 7)
  --duration D      wrk -d of each run (BENCH_DURATION, default 5s)
  --connections N   wrk -c (BENCH_CONNECTIONS, default 30)
  --rate R          requests per second offered to every target, paced per connection; 0: unpaced
                    (BENCH_RATE, default 6000)
  --warmup S        seconds of load per target before round 1, 0 to skip (BENCH_WARMUP, default 3)
  --targets T       comma list of ${PLUGINS_TARGETS.join(", ")}, or all
                    (default ${DEFAULT_PLUGINS_TARGETS.join(",")})
  --unpinned        let every process run on any CPU (default: gateways on CPU 1, the rest on CPU 0)
  --record          write the tables as a dated section into bench/PLUGINS.md
  --note TEXT       a line under that section's heading
  --keep-temp       keep the generated configs and logs`;

export function parsePluginsOptions(argv: string[], env: Record<string, string | undefined>): PluginsOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RECORDED_RUN_FLAGS,
      rounds: { type: "string" },
      duration: { type: "string" },
      connections: { type: "string" },
      rate: { type: "string" },
      warmup: { type: "string" },
      targets: { type: "string" },
    },
  });
  if (values.help) return "help";
  const duration = values.duration ?? env.BENCH_DURATION ?? "5s";
  if (!/^\d+[smh]?$/.test(duration)) throw new Error(`--duration: expected wrk's form (5s, 1m), got "${duration}"`);
  return {
    ...recordedRunOptions(values, env),
    rounds: count("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "7", 1),
    duration,
    connections: count("--connections", values.connections ?? env.BENCH_CONNECTIONS ?? "30", 1),
    rate: count("--rate", values.rate ?? env.BENCH_RATE ?? "6000", 0),
    warmup: count("--warmup", values.warmup ?? env.BENCH_WARMUP ?? "3", 0),
    targets: nameList("--targets", values.targets ?? env.BENCH_TARGETS ?? DEFAULT_PLUGINS_TARGETS.join(","), PLUGINS_TARGETS),
  };
}
