// `workers`: several gateway processes share the listen ports (SO_REUSEPORT), so the kernel spreads
// connections over them and every core serves requests. The first process is the primary: it also runs
// the admin listener, and passes SIGTERM/SIGHUP/SIGUSR1 on to the others. Each worker keeps its own pool state
// (counters, passive failures), like nginx workers without a shared zone; /status shows the primary's, and
// /metrics sums every process's counts (each worker answers the primary over observability/figures-channel.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import process from "node:process";
import type { Runtime } from "./runtime/types.ts";
import { answerPrimary, FIGURES_ENV, FiguresHub } from "./observability/figures-channel.ts";
import type { Figures } from "./observability/exposition.ts";

/** Set in the environment of the processes the primary starts. */
export const WORKER_ENV = "SLUICE_WORKER";
/** The primary's sticky-cookie secret, so that every worker honours the cookies the others issue. */
export const STICKY_SECRET_ENV = "SLUICE_STICKY_SECRET";

export function workerCount(setting: number | "auto"): number {
  return setting === "auto" ? availableParallelism() : setting;
}

export interface WorkerGroup {
  signal(signal: "SIGTERM" | "SIGHUP" | "SIGUSR1"): void;
  /** Resolves when every worker has exited. */
  exited(): Promise<void>;
  /** The figures of every worker that answers in time (for the primary's /metrics). */
  figures(): Promise<Figures[]>;
}

/** Start `count` more gateway processes with the same arguments. */
export async function startWorkers(runtime: Runtime, count: number, args: string[], stickySecret: string): Promise<WorkerGroup> {
  const [command, ...prefix] = runtime.selfCommand();
  const hub = await FiguresHub.open(runtime);
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const child = spawn(command!, [...prefix, ...args], {
      env: { ...process.env, [WORKER_ENV]: String(i + 1), [STICKY_SECRET_ENV]: stickySecret, [FIGURES_ENV]: hub.env },
      // A pipe on stdin: when the primary dies for any reason, the worker sees end-of-file and exits.
      stdio: ["pipe", "inherit", "inherit"],
    });
    child.on("exit", (code, signal) => {
      if (code !== 0 && signal !== "SIGTERM") console.error(`sluice: worker ${i + 1} exited (${signal ?? code})`);
    });
    children.push(child);
  }
  return {
    signal: (signal) => children.forEach((c) => c.exitCode === null && c.kill(signal)),
    exited: () => Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r))))).then(() => hub.close()),
    figures: () => hub.collect(),
  };
}

/** In a worker: hand the primary this process's figures whenever it asks (its /metrics sums them). */
export function reportToPrimary(runtime: Runtime, figures: () => Figures): void {
  const channel = runtime.env(FIGURES_ENV);
  if (channel !== undefined) void answerPrimary(runtime, channel, figures, (line) => console.error(line));
}

/** In a worker: exit when the primary goes away. */
export function exitWithPrimary(runtime: Runtime): void {
  process.stdin.on("end", () => runtime.exit(0));
  process.stdin.on("error", () => runtime.exit(0));
  process.stdin.resume();
}
