// Runs Sluice as a user does, as a child process, and reads what it prints.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { resolve } from "node:path";
import type { Subprocess } from "bun";

export const repoRoot = resolve(import.meta.dir, "../..");
export const cliPath = resolve(repoRoot, "gateway/cli.ts");

export interface RunningProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything printed so far, stdout and stderr interleaved as they arrived. */
  output(): string;
  /** What was printed on stdout alone. */
  stdout(): string;
  /** Resolves once both output streams have ended (the process exited and everything it printed was read). */
  outputEnded: Promise<void>;
  /** Wait until the output matches, or fail after `timeoutMs` with what was printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Start a command and collect its output. */
export function spawnCommand(cmd: string[], options: { cwd?: string; env?: Record<string, string> } = {}): RunningProcess {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  let stdout = "";
  const pump = async (stream: ReadableStream<Uint8Array>, also?: (piece: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk, { stream: true });
      text += piece;
      also?.(piece);
    }
  };
  const outputEnded = Promise.all([pump(proc.stdout, (piece) => (stdout += piece)), pump(proc.stderr)]).then(() => {});
  return {
    proc,
    output: () => text,
    stdout: () => stdout,
    outputEnded,
    async waitFor(pattern, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const m = text.match(pattern);
        if (m) return m;
        if (proc.exitCode !== null) break;
        await Bun.sleep(25);
      }
      const m = text.match(pattern);
      if (m) return m;
      throw new Error(`output never matched ${pattern} (exit ${proc.exitCode}):\n${text}`);
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
}

/** Run the CLI with Bun and wait for it to exit. */
export async function runCli(args: string[], cwd?: string): Promise<{ code: number; out: string }> {
  const p = spawnCommand([process.execPath, cliPath, ...args], { cwd });
  const code = await p.proc.exited;
  await p.outputEnded;
  return { code, out: p.output() };
}

/** Start the gateway CLI with Bun; resolves once it says it is serving. */
export async function startCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<RunningProcess> {
  const p = spawnCommand([process.execPath, cliPath, ...args], options);
  await p.waitFor(/serving|demo is running/);
  return p;
}

/**
 * The rows of the kernel's TCP socket tables (Linux /proc/net/tcp and tcp6), split into columns:
 * `sl local_address rem_address st tx_queue:rx_queue … inode`, e.g. "0100007F:1F90 00000000:0000 0A … 12345".
 */
export function tcpTableRows(): string[][] {
  const rows: string[][] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "latin1");
    } catch {
      continue;
    }
    for (const row of text.split("\n").slice(1)) if (row.trim() !== "") rows.push(row.trim().split(/\s+/));
  }
  return rows;
}

/** The port of an address column of a TCP table ("0100007F:1F90" → 8080). */
export function tablePort(address: string): number {
  return parseInt(address.split(":")[1]!, 16);
}

/** Whether process `pid` holds a TCP socket listening on `port` (Linux: its descriptors against /proc/net/tcp{,6}). */
export function listensOn(pid: number, port: number): boolean {
  const listening = new Set<string>();
  for (const cols of tcpTableRows()) {
    if (cols.length > 9 && cols[3] === "0A" && tablePort(cols[1]!) === port) listening.add(cols[9]!);
  }
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      return inode !== undefined && listening.has(inode);
    } catch {
      return false; // closed meanwhile
    }
  });
}
