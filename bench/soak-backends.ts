// The soak run's two backends: the benchmarks' nginx backend (backend.ts), each in a directory of its own so
// that their configs, pid files and logs stay apart, and each restarted the hard way: SIGKILL to the master
// and its workers, as a crashed server, then started again on the same port.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SMALL_BODY, startBackend } from "./backend.ts";
import { childPids, freePort, waitForHttp, type Child } from "./procs.ts";

export class SoakBackend {
  private child!: Child;

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly dir: string,
    private readonly statusPort: number,
  ) {}

  static async start(name: string, parentDir: string): Promise<SoakBackend> {
    const dir = join(parentDir, name);
    mkdirSync(dir, { recursive: true });
    const backend = new SoakBackend(name, await freePort(), dir, await freePort());
    await backend.launch();
    return backend;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    this.child = startBackend(this.dir, [this.port], this.statusPort, 1, null);
    await waitForHttp(this.child, `${this.url}/`, SMALL_BODY.length);
  }

  /** SIGKILL (master and workers), wait for the exit, start again, wait until it answers. */
  async restart(): Promise<void> {
    const child = this.child;
    const workers = childPids(child.pid);
    const exited = new Promise<void>((resolve) => (child.exited ? resolve() : child.proc.once("exit", () => resolve())));
    for (const pid of [child.pid, ...workers]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await exited;
    // The workers are no longer the master's children once it is gone: wait for them by pid (a few seconds at most).
    const deadline = Date.now() + 5_000;
    while (workers.some(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.launch();
  }
}

/** Whether a process still runs: it exists and is not a zombie nobody has reaped yet (/proc/PID/stat state Z). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}
