// What every HAProxy of the benchmarks shares (haproxy.ts, stream-servers.ts, l4-servers.ts): one thread,
// as each proxy is compared on one core; its config in the run's temp dir; `-db`, which keeps it in the
// foreground so that the pid the benchmark holds is the server's own. With no pidfile, log or stats
// socket in its config, it writes no file at all.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pinned } from "./pinning.ts";
import { startChild, toolPath, type Child } from "./procs.ts";

/** The `global` section: one thread, at most `maxconn` connections. */
export function haproxyGlobal(maxconn: number): string {
  return `global
  nbthread 1
  maxconn ${maxconn}`;
}

/** The `defaults` of an HTTP proxy that keeps client connections open and reuses server connections
 *  across clients. `tunnel`: also the timeout of an upgraded (WebSocket) connection. */
export function haproxyHttpDefaults(clientServerTimeout: string, tunnel?: string): string {
  return `defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client ${clientServerTimeout}
  timeout server ${clientServerTimeout}
${tunnel ? `  timeout tunnel ${tunnel}\n` : ""}  timeout http-keep-alive 60s`;
}

/** A frontend on 127.0.0.1:`port` that sends everything to one server on 127.0.0.1:`serverPort`. */
export function haproxyForward(frontend: string, port: number, backend: string, serverPort: number): string {
  return `frontend ${frontend}
  bind 127.0.0.1:${port}
  default_backend ${backend}

backend ${backend}
  server ${backend} 127.0.0.1:${serverPort}`;
}

/** `config` written to `dir`/haproxy.cfg, and the command that runs it in the foreground (for a caller that
 *  starts it its own way, as l4-servers.ts does to raise its fd limit). */
export function haproxyCommand(dir: string, config: string): [string, string[]] {
  const path = join(dir, "haproxy.cfg");
  writeFileSync(path, config);
  return [toolPath("haproxy"), ["-db", "-f", path]];
}

/** HAProxy with `config`, on `cpus` (taskset list; null: anywhere). */
export function startHaproxyProcess(dir: string, config: string, cpus: string | null): Child {
  return startChild("haproxy", ...pinned(cpus, ...haproxyCommand(dir, config)), dir);
}
