// The figures Prometheus expects of every process (process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds), read when /metrics is scraped: CPU and memory
// from node:process (both runtimes have it), descriptors from /proc where there is one (Linux).
import process from "node:process";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessFigures {
  /** User and system CPU time used since start. */
  cpuSeconds: number;
  residentBytes: number;
  /** Open file descriptors (undefined without /proc). */
  openFds?: number;
  /** The soft limit on open file descriptors (undefined without /proc). */
  maxFds?: number;
  /** When the process started, in seconds since the Unix epoch. */
  startTimeSeconds: number;
}

const startTimeSeconds = Date.now() / 1000 - process.uptime();

function openFds(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const limit = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return limit ? Number(limit[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function processFigures(): ProcessFigures {
  let cpuSeconds = 0;
  let residentBytes = 0;
  try {
    const cpu = process.cpuUsage();
    cpuSeconds = (cpu.user + cpu.system) / 1e6;
    residentBytes = process.memoryUsage.rss();
  } catch {
    // A runtime without the permission to read them: reported as 0.
  }
  return { cpuSeconds, residentBytes, openFds: openFds(), maxFds: maxFds(), startTimeSeconds };
}
