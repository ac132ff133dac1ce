// The load of the plugins benchmark: wrk with a Lua script that adds the run's headers (a bearer token and an
// Origin) to every request and paces each connection, so that every target is offered the same request rate.
// At equal rates the CPU per request compares fairly: the gateway's cost per request falls as the rate rises
// (more work per wakeup, fuller export batches), so a slower target at full speed would look cheaper per
// request than it is at the rate of a faster one.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLoadTool } from "./load-tool.ts";
import { pinned } from "./pinning.ts";
import { parseWrk, type WrkResult } from "./wrk.ts";

export interface PacedLoad {
  connections: number;
  /** Requests per second offered in all (0: unpaced). */
  rate: number;
  duration: string;
  /** taskset CPU list wrk runs on; null: anywhere. */
  cpus: string | null;
}

/**
 * The wrk script: `headers` on every request, and with a rate, a pause before each request of a connection of
 * connections/rate seconds on average. wrk takes whole milliseconds, so the script draws the floor or the
 * ceiling of the pause with the odds that give the right mean. (The round trip comes on top of the pause:
 * the rate reached is a little under the one offered, and is reported as measured.)
 */
export function writeWrkScript(dir: string, headers: Record<string, string>, load: PacedLoad): string {
  const lines = Object.entries(headers).map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  if (load.rate > 0) {
    const pauseMs = (load.connections * 1000) / load.rate;
    lines.push(
      `local base = ${Math.floor(pauseMs)}`,
      `local extra = ${(pauseMs - Math.floor(pauseMs)).toFixed(4)}`,
      "function delay()",
      "  if math.random() < extra then return base + 1 end",
      "  return base",
      "end",
    );
  }
  const path = join(dir, "load.lua");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

export async function runPacedWrk(url: string, script: string, load: PacedLoad): Promise<WrkResult> {
  const args = ["-t1", `-c${load.connections}`, `-d${load.duration}`, "--latency", "-s", script, url];
  const { code, signal, output } = await runLoadTool(...pinned(load.cpus, "wrk", args));
  if (code !== 0) throw new Error(`wrk ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${output}`);
  return parseWrk(output);
}
