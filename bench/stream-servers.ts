// The processes of the streaming benchmark: the Bun upstream (WebSocket echo, downloads, upload sink),
// and in front of it Sluice's HTTP listener, Sluice's L4 `tcp` listener (the byte pipe the HTTP path is
// held to), nginx and HAProxy, each one worker or thread. Every proxy passes WebSocket upgrades and
// streams bodies both ways without spooling them to disk; none logs requests or opens an admin listener.
// Each is started as its own binary (through taskset when pinned), so its pid is the server's own.
import { fileURLToPath } from "node:url";
import { haproxyForward, haproxyGlobal, haproxyHttpDefaults, startHaproxyProcess } from "./haproxy-process.ts";
import { httpPrelude, prelude, startNginx } from "./nginx-process.ts";
import { pinned } from "./pinning.ts";
import { startChild, type Child } from "./procs.ts";
import { BUN_ENV, bunBinary } from "./runtimes.ts";
import { startSluiceProcess } from "./sluice-process.ts";

const UPSTREAM_SCRIPT = fileURLToPath(new URL("./stream-upstream.ts", import.meta.url));
/** Long enough for the slowest transfer of a run; a stuck one still ends, and the client times out first. */
const PROXY_TIMEOUT_S = 600;

/** The upstream on `port`, serving the files of `filesDir` (stream-upstream.ts). */
export function startUpstream(dir: string, port: number, filesDir: string, cpus: string | null): Child {
  return startChild("upstream", ...pinned(cpus, bunBinary(), [UPSTREAM_SCRIPT, String(port), filesDir]), dir, BUN_ENV);
}

/** Sluice's HTTP listener with one route to the upstream. `maxBodySize` lets the uploads through;
 *  `maxFails: 0` keeps one failed transfer from taking the server out for the runs after it (a failure
 *  shows up in the errors column instead). */
export function startSluiceHttp(dir: string, port: number, upstreamPort: number, maxBodyBytes: number, cpus: string | null): Child {
  return startSluiceProcess(
    "bun",
    dir,
    "sluice",
    {
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: false,
      limits: { maxBodySize: maxBodyBytes },
      pools: { upstream: { servers: [{ url: `http://127.0.0.1:${upstreamPort}`, maxFails: 0 }], timeouts: { response: `${PROXY_TIMEOUT_S}s` } } },
      routes: [{ pool: "upstream" }],
    },
    cpus,
  );
}

/** Sluice's L4 listener: a `mode: "tcp"` pool and a `tcp` listener in front of the same upstream. The HTTP
 *  listener is always opened: on a free port, unused. */
export function startSluiceTcp(dir: string, httpPort: number, port: number, upstreamPort: number, cpus: string | null): Child {
  return startSluiceProcess(
    "bun",
    dir,
    "sluice-tcp",
    {
      listen: `127.0.0.1:${httpPort}`,
      admin: false,
      accessLog: false,
      pools: { upstream: { mode: "tcp", servers: [{ address: `127.0.0.1:${upstreamPort}`, maxFails: 0 }] } },
      tcp: [{ listen: `127.0.0.1:${port}`, pool: "upstream" }],
    },
    cpus,
  );
}

/** nginx, one worker: WebSocket upgrades by the usual Upgrade/Connection lines, upstream keep-alive for the
 *  rest, uploads streamed as they arrive (`proxy_request_buffering off`) instead of spooled to a temp file
 *  first, downloads never spooled to disk (`proxy_max_temp_file_size 0`). Buffer sizes are nginx's defaults. */
export function startStreamNginx(dir: string, port: number, upstreamPort: number, cpus: string | null): Child {
  return startNginx(
    "nginx",
    dir,
    `${prelude("nginx", dir, 1)}
http {
${httpPrelude("nginx", dir)}
  map $http_upgrade $connection_upgrade {
    default upgrade;
    "" "";
  }
  upstream upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_max_temp_file_size 0;
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_read_timeout ${PROXY_TIMEOUT_S}s;
    proxy_send_timeout ${PROXY_TIMEOUT_S}s;
    location / { proxy_pass http://upstream; }
  }
}
`,
    cpus,
  );
}

/** HAProxy `mode http`, one thread: it passes upgrades by itself (a tunnel after the 101, `timeout tunnel`)
 *  and streams bodies both ways by default. */
export function startStreamHaproxy(dir: string, port: number, upstreamPort: number, cpus: string | null): Child {
  const config = `${haproxyGlobal(4096)}

${haproxyHttpDefaults(`${PROXY_TIMEOUT_S}s`, `${PROXY_TIMEOUT_S}s`)}

${haproxyForward("stream", port, "upstream", upstreamPort)}
`;
  return startHaproxyProcess(dir, config, cpus);
}
