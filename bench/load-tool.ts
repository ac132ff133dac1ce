// The load generator running now (wrk, redis-benchmark or curl): one at a time, started with its output
// collected, and remembered while it runs, so that an interrupt can kill it before the children it loads
// are stopped (lifecycle.ts).
import { spawn, type ChildProcess } from "node:child_process";

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr together, in the order they came. */
  output: string;
  stdout: string;
  stderr: string;
}

let current: ChildProcess | undefined;

/** Runs `command args` to its end; rejects only when it cannot be started. `killAfterMs`: SIGKILL it if it
 *  is still running then. */
export function runLoadTool(command: string, args: string[], killAfterMs?: number): Promise<ToolExit> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    current = proc;
    let output = "";
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      stdout += text;
    });
    proc.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      stderr += text;
    });
    const killer = killAfterMs === undefined ? undefined : setTimeout(() => proc.kill("SIGKILL"), killAfterMs);
    proc.on("error", (error) => {
      clearTimeout(killer);
      current = undefined;
      reject(error);
    });
    proc.on("close", (code, signal) => {
      clearTimeout(killer);
      current = undefined;
      resolve({ code, signal, output, stdout, stderr });
    });
  });
}

/** Kills the load generator running now, if any. */
export function killLoadTool(): void {
  if (current?.pid !== undefined && current.exitCode === null) current.kill("SIGKILL");
}
