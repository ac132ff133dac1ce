// nginx as a reverse proxy with upstream keep-alive (1 worker), and the helpers the nginx backend shares
// (backend.ts). Each nginx instance runs in the foreground (`daemon off`) with its prefix, pid file,
// error log and temp paths inside the benchmark's temp dir, so nothing is written anywhere else.
// The proxy carries the benchmark's route table and adds what Sluice always adds: X-Forwarded-For,
// -Proto and -Host, and a request id (the client's when it sent a sane one) towards the backend and
// on the answer.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pinned } from "./pinning.ts";
import { startChild, toolPath, type Child } from "./procs.ts";
import { nginxDecoyUpstreams, nginxHostServers, nginxSiteLocations, SITE_HOSTS } from "./route-table.ts";

/** Everything an nginx instance would otherwise write under /var: kept in `dir/<name>.*`. */
export function prelude(name: string, dir: string, workers: number): string {
  const temp = join(dir, `${name}.temp`);
  mkdirSync(temp, { recursive: true });
  return `worker_processes ${workers};
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}.error.log`)} warn;
events { worker_connections 4096; }`;
}

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

export function startNginxProxy(dir: string, port: number, backendPort: number, decoyPort: number, cpus: string | null): Child {
  const listen = `127.0.0.1:${port}`;
  return startNginx("nginx", dir, `${prelude("nginx", dir, 1)}
http {
${httpPrelude("nginx", dir)}
  # Set here and nowhere below, so every location and if block inherits all of them.
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Forwarded-Host $http_host;
  proxy_set_header X-Request-Id $bench_request_id;
  add_header X-Request-Id $bench_request_id always;
  # Bodies above the in-memory buffers stream through instead of being spooled to a temp file.
  proxy_max_temp_file_size 0;
  map $http_x_request_id $bench_request_id {
    "" $request_id;
    "~^[\\w.:@=+/-]{1,200}$" $http_x_request_id;
    default $request_id;
  }
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
${nginxDecoyUpstreams(decoyPort)}
${nginxHostServers(listen)}
  server {
    listen ${listen} default_server backlog=4096;
    server_name ${SITE_HOSTS.join(" ")};
${nginxSiteLocations("backend")}
  }
}
`, cpus);
}
