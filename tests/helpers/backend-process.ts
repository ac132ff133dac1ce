// An upstream server in a process of its own, so that a test can kill it with SIGKILL mid-exchange (the kernel
// then closes its sockets as a crashed server's would) and start it again on the same port. It answers every
// path with its name (also in `x-upstream`), and `/slow?ms=N` after N milliseconds.
// Run as a script: `bun tests/helpers/backend-process.ts NAME PORT` prints {"port":N} once it listens.
import type { Subprocess } from "bun";
import { jsonLines } from "./json-lines.ts";

export interface BackendProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** SIGKILL, and wait until the process is gone (its sockets closed by the kernel). */
  kill(): Promise<void>;
}

/** Start a backend process named `name` on `port` (0: any free port). */
export async function startBackendProcess(name: string, port = 0): Promise<BackendProcess> {
  const proc: Subprocess<"ignore", "pipe", "inherit"> = Bun.spawn([process.execPath, import.meta.path, name, String(port)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const next = jsonLines(proc.stdout, `backend ${name} exited before listening`);
  const { port: bound } = (await next()) as { port: number };
  return {
    name,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    pid: proc.pid,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

if (import.meta.main) {
  const [name = "backend", port = "0"] = process.argv.slice(2);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(port),
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.body) await request.arrayBuffer();
      if (url.pathname === "/slow") await Bun.sleep(Number(url.searchParams.get("ms") ?? 1_000));
      return new Response(name, { headers: { "x-upstream": name } });
    },
  });
  console.log(JSON.stringify({ port: server.port }));
}
