// HAProxy as a reverse proxy: `mode http`, one thread, server connections reused across clients
// (`http-reuse always`). It carries the benchmark's route table and adds what Sluice always adds:
// X-Forwarded-For, -Proto and -Host, and a request id (the client's when it sent a sane one, else a
// UUID) towards the backend and on the answer.
import { haproxyGlobal, haproxyHttpDefaults, startHaproxyProcess } from "./haproxy-process.ts";
import type { Child } from "./procs.ts";
import { haproxyDecoyBackends, haproxyRules } from "./route-table.ts";

export function startHaproxy(dir: string, port: number, backendPort: number, decoyPort: number, cpus: string | null): Child {
  const config = `${haproxyGlobal(4096)}

${haproxyHttpDefaults("60s")}

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
`;
  return startHaproxyProcess(dir, config, cpus);
}
