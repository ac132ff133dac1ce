// CPU time a process has used, from /proc: utime + stime (fields 14 and 15 of /proc/PID/stat), which cover
// every thread of the process, live or exited. A process's forked children (nginx workers) are added
// separately: their time reaches the parent's cutime/cstime only once they are reaped.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { childPids } from "./procs.ts";

let ticksPerSecond: number | undefined;

/** The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on every common Linux build). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const n = Number(out.stdout?.trim());
    ticksPerSecond = out.status === 0 && Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** utime + stime of one process (all its threads) in clock ticks; NaN once it is gone. */
export function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[14 - 3]) + Number(fields[15 - 3]);
  } catch {
    return NaN;
  }
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...childPids(tree[i]!));
  return tree;
}

/** CPU ticks used so far by `pid` and its descendants, per pid, so that a later reading can be compared
 *  process by process: a worker that started between two readings counts from zero, one that exited is lost. */
export function cpuReading(pid: number): Map<number, number> {
  return new Map(processTree(pid).map((p) => [p, processTicks(p)]));
}

/** CPU seconds between two readings of the same process tree. */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, end] of after) {
    const start = before.get(pid) ?? 0;
    if (Number.isFinite(start) && Number.isFinite(end)) ticks += end - start;
  }
  return ticks / clockTicks();
}
