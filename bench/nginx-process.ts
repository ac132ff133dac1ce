// What every nginx of the benchmarks shares (the backend in backend.ts, the proxies in nginx.ts and
// stream-servers.ts): it runs in the foreground (`daemon off`), and its prefix, pid file, error log and
// temp paths are inside the run's temp dir, so that nothing is written anywhere else.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pinned } from "./pinning.ts";
import { startChild, toolPath, type Child } from "./procs.ts";

/** Everything an nginx instance would otherwise write under /var: kept in `dir/<name>.*`. */
export function prelude(name: string, dir: string, workers: number): string {
  const temp = join(dir, `${name}.temp`);
  mkdirSync(temp, { recursive: true });
  return `worker_processes ${workers};
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}.error.log`)} warn;
events { worker_connections 4096; }`;
}

/** The top of the `http` block: no access log, the temp paths in `dir`, client keep-alive without limits. */
export function httpPrelude(name: string, dir: string): string {
  const temp = join(dir, `${name}.temp`);
  return `  access_log off;
  client_body_temp_path ${temp}/client;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  # Client connections are never closed by request count: no reconnect churn in a run.
  keepalive_requests 1000000;
  keepalive_timeout 75s;`;
}

/** An nginx in the foreground with `config`, on `cpus` (taskset list; null: anywhere). */
export function startNginx(name: string, dir: string, config: string, cpus: string | null = null): Child {
  const path = join(dir, `${name}.conf`);
  writeFileSync(path, config);
  // -e: the startup error log before the config is read (else the compiled-in /var/log/nginx/error.log).
  return startChild(name, ...pinned(cpus, toolPath("nginx"), ["-p", dir, "-c", path, "-e", join(dir, `${name}.error.log`), "-g", "daemon off;"]), dir);
}
