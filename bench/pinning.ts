// Pinned mode: every proxy on one core, the load generator and the backend on another, so that a proxy
// gets exactly one core (nginx and HAProxy run one worker; Bun and Deno have helper threads that would
// otherwise spill onto the second core) and never competes with wrk for it. Commands are started through
// `taskset -c`, which sets the affinity and then execs the command: the pid is the command's own, and
// threads and forked workers inherit the affinity.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface PinPlan {
  /** CPU list for the proxies (taskset syntax), or null when nothing is pinned. */
  proxy: string | null;
  /** CPU list for wrk, the backend, the idle clients and this process. */
  load: string | null;
}

export const UNPINNED: PinPlan = { proxy: null, load: null };
/** The cores the targets are quoted for on a 2-core machine. */
const PROXY_CPU = 1;
const LOAD_CPU = 0;

/** The CPUs this process may run on (Cpus_allowed_list of /proc/self/status, e.g. "0-1" or "0,2-3"). */
export function allowedCpus(): number[] {
  const list = affinityOf("self");
  if (list === "?") return [];
  return list.split(",").flatMap((part) => {
    const [from, to = from] = part.split("-").map(Number) as [number, number?];
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/** The CPU list a process (or one of its threads) may run on ("1", "0-1"), from /proc; "?" once it is gone. */
export function affinityOf(pid: number | "self", tid?: number): string {
  try {
    const path = tid === undefined ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`;
    return /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(path, "utf8"))?.[1] ?? "?";
  } catch {
    return "?";
  }
}

/** The threads of `pid` whose CPU list is not `cpus`, as "tid: list". */
export function threadsOffCpus(pid: number, cpus: string): string[] {
  let tids: number[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
  return tids
    .map((tid) => [tid, affinityOf(pid, tid)] as const)
    .filter(([, list]) => list !== cpus && list !== "?")
    .map(([tid, list]) => `${tid}: ${list}`);
}

/** The plan for `pinned`, or why it cannot be followed here. */
export function pinPlan(pinned: boolean): PinPlan | { error: string } {
  if (!pinned) return UNPINNED;
  const cpus = allowedCpus();
  if (!cpus.includes(PROXY_CPU) || !cpus.includes(LOAD_CPU)) {
    return { error: `pinned mode needs CPUs ${LOAD_CPU} and ${PROXY_CPU}; this process may use ${cpus.join(",") || "unknown CPUs"} (use --unpinned)` };
  }
  if (spawnSync("taskset", ["-V"], { stdio: "ignore" }).status !== 0) return { error: "pinned mode needs taskset (util-linux) (use --unpinned)" };
  return { proxy: String(PROXY_CPU), load: String(LOAD_CPU) };
}

/** `command args` started on `cpus` (unchanged when `cpus` is null). */
export function pinned(cpus: string | null, command: string, args: string[]): [string, string[]] {
  return cpus === null ? [command, args] : ["taskset", ["-c", cpus, command, ...args]];
}

/** Move this process (all its threads) to `cpus`: its bookkeeping (ss, /proc reads, idle clients) then
 *  stays off the proxies' core. */
export function pinSelf(cpus: string | null): void {
  if (cpus === null) return;
  const out = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(process.pid)], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${process.pid} failed: ${out.stderr.trim()}`);
}

/** The plan in words; `loadSide` names what runs on the load CPU ("wrk, backend and harness"). */
export function describePlan(plan: PinPlan, loadSide: string): string {
  return plan.proxy === null ? "unpinned (every process may run on any CPU)" : `pinned (proxies on CPU ${plan.proxy}; ${loadSide} on CPU ${plan.load})`;
}
