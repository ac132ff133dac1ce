// `workers`: several gateway processes share the listen ports (SO_REUSEPORT), so the kernel spreads
// connections over them and every core serves requests. The first process is the primary: it also runs
// the admin listener, and passes SIGTERM/SIGHUP on to the others. Each worker keeps its own pool state
// (counters, passive failures), like nginx workers without a shared zone; /status shows the primary's.
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import process from "node:process";
import type { Runtime } from "./runtime/types.ts";

/** Set in the environment of the processes the primary starts. */
export const WORKER_ENV = "SLUICE_WORKER";
/** The primary's sticky-cookie secret, so that every worker honours the cookies the others issue. */
export const STICKY_SECRET_ENV = "SLUICE_STICKY_SECRET";

export function workerCount(setting: number | "auto"): number {
  return setting === "auto" ? availableParallelism() : setting;
}

export interface WorkerGroup {
  signal(signal: "SIGTERM" | "SIGHUP"): void;
  /** Resolves when every worker has exited. */
  exited(): Promise<void>;
}

/** Start `count` more gateway processes with the same arguments. */
export function startWorkers(runtime: Runtime, count: number, args: string[], stickySecret: string): WorkerGroup {
  const [command, ...prefix] = runtime.selfCommand();
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const child = spawn(command!, [...prefix, ...args], {
      env: { ...process.env, [WORKER_ENV]: String(i + 1), [STICKY_SECRET_ENV]: stickySecret },
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
    exited: () => Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r))))).then(() => {}),
  };
}

/** In a worker: exit when the primary goes away. */
export function exitWithPrimary(runtime: Runtime): void {
  process.stdin.on("end", () => runtime.exit(0));
  process.stdin.on("error", () => runtime.exit(0));
  process.stdin.resume();
}
