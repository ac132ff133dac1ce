// Resident memory of a process tree (nginx master and workers, a runtime and whatever it forked), summed
// over the processes still there, from /proc/PID/status.
import { processTree } from "./cpu-time.ts";
import { memoryOf } from "./procs.ts";

/** VmRSS and VmHWM of `pid` and its descendants in MB; null when none of them can be read. */
export function treeMemory(pid: number): { rssMB: number; peakMB: number } | null {
  const mems = processTree(pid)
    .map(memoryOf)
    .filter((m) => m !== null);
  if (mems.length === 0) return null;
  return { rssMB: mems.reduce((s, m) => s + m.rssMB, 0), peakMB: mems.reduce((s, m) => s + m.peakMB, 0) };
}
