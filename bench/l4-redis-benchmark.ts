// One redis-benchmark run (`-q`) and what is read from it: requests/s and, from Redis 7 on, p50.
import { runLoadTool } from "./load-tool.ts";
import { toolPath } from "./procs.ts";

export interface RedisTest {
  name: "get" | "set";
  title: string;
  /** redis-benchmark's arguments after `-h 127.0.0.1 -p PORT`. */
  args: string[];
}

export const REDIS_TESTS: RedisTest[] = [
  { name: "get", title: "GET, 50 clients: redis-benchmark -c 50 -n 100000 -t get -q", args: ["-c", "50", "-n", "100000", "-t", "get", "-q"] },
  { name: "set", title: "SET pipelined: redis-benchmark -c 50 -n 200000 -P 16 -t set -q", args: ["-c", "50", "-n", "200000", "-P", "16", "-t", "set", "-q"] },
];

export interface RedisBenchResult {
  requestsPerSec: number;
  /** NaN when this redis-benchmark does not print it. */
  p50ms: number;
  seconds: number;
  raw: string;
}

/** `-q` prints progress lines ending in \r, then e.g. "GET: 81234.56 requests per second, p50=0.303 msec". */
export function parseRedisBenchmark(raw: string, command: string): Omit<RedisBenchResult, "seconds" | "raw"> {
  const lines = raw.split(/[\r\n]+/);
  const final = lines.reverse().find((l) => new RegExp(`^${command}: [\\d.]+ requests per second`, "i").test(l.trim()));
  if (!final) throw new Error(`could not read ${command} requests per second from redis-benchmark's output:\n${raw.replace(/\r/g, "\n").slice(-2000)}`);
  const rps = Number(/: ([\d.]+) requests per second/.exec(final)![1]);
  const p50 = /p50=([\d.]+) msec/.exec(final);
  return { requestsPerSec: rps, p50ms: p50 ? Number(p50[1]) : NaN };
}

export async function runRedisBenchmark(port: number, test: RedisTest, overrideArgs?: string[]): Promise<RedisBenchResult> {
  const args = ["-h", "127.0.0.1", "-p", String(port), ...(overrideArgs ?? test.args)];
  const started = performance.now();
  const { code, signal, output } = await runLoadTool(toolPath("redis-benchmark"), args);
  const seconds = (performance.now() - started) / 1000;
  const tail = output.replace(/\r/g, "\n").slice(-2000);
  if (code !== 0) throw new Error(`redis-benchmark ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail}`);
  // redis-benchmark keeps going (and exits 0) after errors such as a refused connection: it says so.
  if (/error|could not connect/i.test(output)) throw new Error(`redis-benchmark ${args.join(" ")} reported errors:\n${tail}`);
  return { ...parseRedisBenchmark(output, test.name), seconds, raw: output };
}
