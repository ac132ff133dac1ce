// Child processes of the benchmark: spawned with their output in the temp dir, remembered by pid, and
// stopped by pid (SIGTERM, then SIGKILL after a grace period) together with any children they forked
// (nginx workers). Nothing here signals a process the benchmark did not start.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  /** The file holding the child's stdout and stderr. */
  logPath: string;
  exited: boolean;
  exitCode: number | null;
}

const children: Child[] = [];

/** The tools the benchmark needs that are not on PATH. */
export function missingTools(tools: string[]): string[] {
  return tools.filter((tool) => {
    const probe = spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return probe.status !== 0 && !existsSync(`/usr/sbin/${tool}`);
  });
}

/** Resolve a tool that Debian installs in /usr/sbin, which is not on every user's PATH. */
export function toolPath(tool: string): string {
  const probe = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
  if (probe.status === 0 && probe.stdout.trim()) return probe.stdout.trim();
  return `/usr/sbin/${tool}`;
}

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

export function startChild(name: string, command: string, args: string[], dir: string, env?: Record<string, string>): Child {
  const logPath = join(dir, `${name}.out`);
  const fd = openSync(logPath, "a");
  const proc = spawn(command, args, { stdio: ["ignore", fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const child: Child = { name, pid: proc.pid, proc, logPath, exited: false, exitCode: null };
  proc.on("exit", (code, signal) => {
    child.exited = true;
    child.exitCode = code ?? (signal ? 128 : null);
  });
  proc.on("error", () => {
    child.exited = true;
  });
  children.push(child);
  return child;
}

export function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

/** Try `probe` every 100 ms until it passes (resolves undefined), or throw with the child's output: once the
 *  child has exited, or after `timeoutMs` with what the probe last said was wrong (its result or its error).
 *  `what`: what the child is to answer, for that message. */
export async function waitForAnswer(child: Child, what: string, timeoutMs: number, probe: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`${child.name} exited (code ${child.exitCode}) before answering:\n${tail(child.logPath)}`);
    try {
      const wrong = await probe();
      if (wrong === undefined) return;
      last = wrong;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} did not answer ${what} within ${timeoutMs} ms (${last}):\n${tail(child.logPath)}`);
}

/** Wait until `url` answers 200 with a body of `expectBytes`, or throw with the child's output. */
export function waitForHttp(child: Child, url: string, expectBytes: number, timeoutMs = 15_000): Promise<void> {
  return waitForAnswer(child, url, timeoutMs, async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    const body = await response.arrayBuffer();
    if (response.status === 200 && body.byteLength === expectBytes) return undefined;
    return `status ${response.status}, ${body.byteLength} bytes (expected 200, ${expectBytes})`;
  });
}

/** The direct children of `pid` (nginx workers of a master), from /proc. */
export function childPids(pid: number): number[] {
  try {
    const tids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return tids ? tids.split(/\s+/).map(Number) : [];
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: scan every process's parent pid.
    const found: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // Field 4 of /proc/N/stat, after the parenthesised command name (which may hold spaces).
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) found.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return found;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Stop every child: SIGTERM, up to `graceMs` to exit, then SIGKILL whatever is left (forked workers too). */
export async function stopAll(graceMs = 3_000): Promise<void> {
  const running = children.filter((c) => !c.exited);
  // Remember forked workers now: once a master is gone they are reparented and no longer findable from it.
  const forked = running.flatMap((c) => childPids(c.pid));
  for (const c of running) signal(c.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  const pending = () => [...running.filter((c) => !c.exited).map((c) => c.pid), ...forked.filter(alive)];
  while (pending().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pending()) signal(pid, "SIGKILL");
  children.length = 0;
}

/** Synchronous last resort for process exit paths that cannot wait. */
export function killAllNow(): void {
  for (const c of children) {
    if (c.exited) continue;
    for (const pid of childPids(c.pid)) signal(pid, "SIGKILL");
    signal(c.pid, "SIGKILL");
  }
}

/** Resident memory of a process in MB, from /proc/PID/status (VmRSS, and VmHWM: its peak). */
export function memoryOf(pid: number): { rssMB: number; peakMB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rssMB: kb("VmRSS") / 1024, peakMB: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

/** Established TCP connections towards `port` (the client ends only: `dport`). NaN when `ss` is missing. */
export function establishedTo(port: number): number {
  const out = spawnSync("ss", ["-tanH", "state", "established", `( dport = :${port} )`], { encoding: "utf8" });
  return out.status === 0 ? out.stdout.split("\n").filter((l) => l.trim()).length : NaN;
}

/** TIME_WAIT TCP sockets right now: all of them (the `ss -tan state time-wait` count without its header
 *  line), or only those with one of `ports` at either end. NaN when `ss` is missing. */
export function timeWait(ports?: number[]): number {
  const filter = ports ? [`( ${ports.map((p) => `sport = :${p} or dport = :${p}`).join(" or ")} )`] : [];
  const out = spawnSync("ss", ["-tanH", "state", "time-wait", ...filter], { encoding: "utf8", maxBuffer: 1 << 28 });
  return out.status === 0 ? out.stdout.split("\n").filter((l) => l.trim()).length : NaN;
}
