// The peak resident memory of a process tree during one run. The kernel's own peak (VmHWM) is reset right
// before the run by writing 5 to /proc/PID/clear_refs (Linux 4.0 and later, for processes this user owns),
// so it covers the run alone and misses no short spike. Where that reset is refused, VmRSS is sampled
// every 50 ms instead, which can miss a spike shorter than that. Summed over the tree (nginx master and worker).
import { writeFileSync } from "node:fs";
import { processTree } from "./cpu-time.ts";
import { treeMemory } from "./tree-memory.ts";

const SAMPLE_MS = 50;

export interface PeakWatch {
  /** VmRSS of the tree when the watch started, in MB. */
  startMB: number;
  /** Stop watching: the peak RSS in MB since the start, and how it was found. */
  stop(): { peakMB: number; how: "VmHWM" | "sampled" };
}

function treeMB(pid: number, field: "rssMB" | "peakMB"): number {
  return treeMemory(pid)?.[field] ?? 0;
}

function resetPeak(pid: number): boolean {
  try {
    for (const p of processTree(pid)) writeFileSync(`/proc/${p}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export function watchPeak(pid: number): PeakWatch {
  const reset = resetPeak(pid);
  const startMB = treeMB(pid, "rssMB");
  let sampled = startMB;
  const timer = reset ? undefined : setInterval(() => (sampled = Math.max(sampled, treeMB(pid, "rssMB"))), SAMPLE_MS);
  return {
    startMB,
    stop() {
      if (!reset) {
        clearInterval(timer);
        return { peakMB: Math.max(sampled, treeMB(pid, "rssMB")), how: "sampled" };
      }
      return { peakMB: treeMB(pid, "peakMB"), how: "VmHWM" };
    },
  };
}
