// HAProxy as a reverse proxy: `mode http`, one thread, server connections reused across clients
// (`http-reuse always`). It carries the benchmark's route table and adds what Sluice always adds:
// X-Forwarded-For, -Proto and -Host, and a request id (the client's when it sent a sane one, else a
// UUID) towards the backend and on the answer. `-db` keeps it in the foreground; with no pidfile, log or
// stats socket in the config it writes no file at all.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pinned } from "./pinning.ts";
import { startChild, toolPath, type Child } from "./procs.ts";
import { haproxyDecoyBackends, haproxyRules } from "./route-table.ts";

export function startHaproxy(dir: string, port: number, backendPort: number, decoyPort: number, cpus: string | null): Child {
  const path = join(dir, "haproxy.cfg");
  writeFileSync(path, `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s

frontend bench
  bind 127.0.0.1:${port}
  option forwardfor
  http-request set-var(txn.request_id) req.hdr(x-request-id) if { req.hdr(x-request-id) -m reg ^[A-Za-z0-9_.:@=+/-]{1,200}$ }
  http-request set-var(txn.request_id) uuid unless { var(txn.request_id) -m found }
  http-request set-header X-Request-Id %[var(txn.request_id)]
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-response set-header X-Request-Id %[var(txn.request_id)]
${haproxyRules("backend")}

backend backend
  server backend 127.0.0.1:${backendPort}

${haproxyDecoyBackends(decoyPort)}
`);
  return startChild("haproxy", ...pinned(cpus, toolPath("haproxy"), ["-db", "-f", path]), dir);
}
