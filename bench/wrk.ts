// One wrk run and what is read from its output: requests/s, transfer/s, p50/p99 (from --latency) and errors.
import { runLoadTool } from "./load-tool.ts";
import { pinned } from "./pinning.ts";

export interface WrkResult {
  requestsPerSec: number;
  /** Bytes per second as wrk counts them (headers included). */
  bytesPerSec: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  /** Socket errors (connect/read/write/timeout) plus non-2xx/3xx responses. */
  errors: number;
  raw: string;
}

export interface WrkOptions {
  threads: number;
  connections: number;
  duration: string;
  /** taskset CPU list wrk runs on; null: anywhere. */
  cpus: string | null;
}

const BYTE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function number(raw: string, pattern: RegExp, what: string): number {
  const m = pattern.exec(raw);
  if (!m) throw new Error(`could not read ${what} from wrk's output:\n${raw}`);
  return Number(m[1]);
}

function latency(raw: string, percentile: string): number {
  const m = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m").exec(raw);
  if (!m) throw new Error(`could not read p${percentile} from wrk's output (is --latency on?):\n${raw}`);
  return Number(m[1]) * TIME_UNITS[m[2]!]!;
}

export function parseWrk(raw: string): WrkResult {
  const transfer = /^Transfer\/sec:\s+([\d.]+)([KMGT]?B)\s*$/m.exec(raw);
  if (!transfer) throw new Error(`could not read Transfer/sec from wrk's output:\n${raw}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(raw)?.[1] ?? 0);
  return {
    requestsPerSec: number(raw, /^Requests\/sec:\s+([\d.]+)/m, "Requests/sec"),
    bytesPerSec: Number(transfer[1]) * BYTE_UNITS[transfer[2]!]!,
    p50ms: latency(raw, "50"),
    p99ms: latency(raw, "99"),
    requests: number(raw, /^\s*(\d+) requests in /m, "the request count"),
    errors: socketErrors + non2xx,
    raw,
  };
}

export async function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.duration}`, "--latency", url];
  const { code, signal, output } = await runLoadTool(...pinned(options.cpus, "wrk", args));
  if (code !== 0) throw new Error(`wrk ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${output}`);
  return parseWrk(output);
}
