// nginx as a reverse proxy with upstream keep-alive (1 worker), started like every nginx of the benchmarks
// (nginx-process.ts). It carries the benchmark's route table and adds what Sluice always adds:
// X-Forwarded-For, -Proto and -Host, and a request id (the client's when it sent a sane one) towards the
// backend and on the answer.
import { httpPrelude, prelude, startNginx } from "./nginx-process.ts";
import type { Child } from "./procs.ts";
import { nginxDecoyUpstreams, nginxHostServers, nginxSiteLocations, SITE_HOSTS } from "./route-table.ts";

export function startNginxProxy(dir: string, port: number, backendPort: number, decoyPort: number, cpus: string | null): Child {
  const listen = `127.0.0.1:${port}`;
  return startNginx(
    "nginx",
    dir,
    `${prelude("nginx", dir, 1)}
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
`,
    cpus,
  );
}
