// nginx as a reverse proxy with upstream keep-alive (1 worker), and the helpers the nginx backend shares
// (backend.ts). Each nginx instance runs in the foreground (`daemon off`) with its prefix, pid file,
// error log and temp paths inside the benchmark's temp dir, so nothing is written anywhere else.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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

export function startNginx(name: string, dir: string, config: string): Child {
  const path = join(dir, `${name}.conf`);
  writeFileSync(path, config);
  // -e: the startup error log before the config is read (else the compiled-in /var/log/nginx/error.log).
  return startChild(name, toolPath("nginx"), ["-p", dir, "-c", path, "-e", join(dir, `${name}.error.log`), "-g", "daemon off;"], dir);
}

export function startNginxProxy(dir: string, port: number, backendPort: number): Child {
  return startNginx("nginx", dir, `${prelude("nginx", dir, 1)}
http {
${httpPrelude("nginx", dir)}
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Bodies above the in-memory buffers stream through instead of being spooled to a temp file.
      proxy_max_temp_file_size 0;
    }
  }
}
`);
}
