// The soak run's settings: flags first, then SOAK_* environment variables, then defaults.
import { parseArgs } from "node:util";
import { count } from "./option-parsing.ts";

export interface SoakOptions {
  /** How long the load runs. */
  minutes: number;
  /** Requests per second wrk is paced to (all connections together). */
  rate: number;
  /** wrk -c. */
  connections: number;
  /** A backend is killed (-9) and started again this often, the two in turn (seconds). */
  restartEvery: number;
  /** The config is reloaded this often, by SIGHUP and by POST /reload in turn (seconds). */
  reloadEvery: number;
  /** Clients reading 1 MiB answers slowly, and clients sending their request heads slowly. */
  slowReaders: number;
  slowSenders: number;
  /** Where SOAK.md and soak.svg are written. */
  outDir: string;
  keepTemp: boolean;
}

export const USAGE = `Usage: bun bench/soak.ts [options]     (or: npm run soak -- [options])
  --minutes N         how long the load runs (SOAK_MINUTES, default 10; decimals allowed)
  --rate N            requests/s wrk is paced to, all connections together (SOAK_RATE, default 2000)
  --connections N     wrk -c (SOAK_CONNECTIONS, default 20)
  --restart-every S   kill -9 a backend and start it again every S seconds, the two in turn (default 10)
  --reload-every S    reload the config every S seconds, by SIGHUP and by POST /reload in turn (default 30)
  --slow-readers N    clients reading 1 MiB answers at about 128 KiB/s (default 4)
  --slow-senders N    clients sending their request heads a line every 250 ms (default 4)
  --out DIR           where SOAK.md and soak.svg go (default bench/)
  --keep-temp         keep the generated configs and logs (SOAK_KEEP_TEMP=1)`;

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a number above 0, got "${text}"`);
  return n;
}

export function parseSoakOptions(argv: string[], env: Record<string, string | undefined>, benchDir: string): SoakOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string" },
      rate: { type: "string" },
      connections: { type: "string" },
      "restart-every": { type: "string" },
      "reload-every": { type: "string" },
      "slow-readers": { type: "string" },
      "slow-senders": { type: "string" },
      out: { type: "string" },
      "keep-temp": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  return {
    minutes: positive("--minutes", values.minutes ?? env.SOAK_MINUTES ?? "10"),
    rate: count("--rate", values.rate ?? env.SOAK_RATE ?? "2000", 1),
    connections: count("--connections", values.connections ?? env.SOAK_CONNECTIONS ?? "20", 1),
    restartEvery: positive("--restart-every", values["restart-every"] ?? "10"),
    reloadEvery: positive("--reload-every", values["reload-every"] ?? "30"),
    slowReaders: count("--slow-readers", values["slow-readers"] ?? "4", 0),
    slowSenders: count("--slow-senders", values["slow-senders"] ?? "4", 0),
    outDir: values.out ?? benchDir,
    keepTemp: values["keep-temp"] ?? env.SOAK_KEEP_TEMP === "1",
  };
}
