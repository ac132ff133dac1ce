// HAProxy as a reverse proxy: `mode http`, one thread, server connections reused across clients
// (`http-reuse always`). `-db` keeps it in the foreground; with no pidfile, log or stats socket in the
// config it writes no file at all.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startChild, toolPath, type Child } from "./procs.ts";

export function startHaproxy(dir: string, port: number, backendPort: number): Child {
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
  default_backend backend

backend backend
  server backend 127.0.0.1:${backendPort}
`);
  return startChild("haproxy", toolPath("haproxy"), ["-db", "-f", path], dir);
}
