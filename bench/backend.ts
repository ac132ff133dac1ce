// The backend every target ends at: nginx answering `GET /` with a fixed ~100-byte body (`return 200`,
// no file access) and `GET /1mb.bin` with a 1 MB static file (sendfile). nginx rather than a Bun.serve
// backend: a C event loop that costs the least CPU per request on this 2-core machine (the CPU the
// proxy under test and wrk compete for) and is neither Bun nor one of the compared proxies' own code.
// A listener of its own serves `stub_status`, whose "accepts" counter tells how many upstream
// connections a proxy opened (backend-status.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { STATUS_PATH } from "./backend-status.ts";
import { httpPrelude, prelude, startNginx } from "./nginx-process.ts";
import type { Child } from "./procs.ts";

export const SMALL_PATH = "/";
export const LARGE_PATH = "/1mb.bin";
/** Exactly 100 bytes, letters and spaces only (it sits inside an nginx string). */
export const SMALL_BODY = "sluice bench backend: a fixed small response body for the small scenario ".padEnd(99, "x") + "\n";
export const LARGE_BYTES = 1024 * 1024;

/** One listener per target (`ports`), so TIME_WAIT sockets towards the backend can be told apart per proxy,
 *  and `statusPort` for the counters; on `cpus` (taskset list; null: anywhere). */
export function startBackend(dir: string, ports: number[], statusPort: number, workers: number, cpus: string | null): Child {
  const www = join(dir, "www");
  mkdirSync(www, { recursive: true });
  const large = new Uint8Array(LARGE_BYTES);
  for (let i = 0; i < large.length; i++) large[i] = 97 + (i % 26);
  writeFileSync(join(www, LARGE_PATH.slice(1)), large);
  return startNginx(
    "backend",
    dir,
    `${prelude("backend", dir, workers)}
http {
${httpPrelude("backend", dir)}
  sendfile on;
  tcp_nopush on;
  server {
${ports.map((port) => `    listen 127.0.0.1:${port}${workers > 1 ? " reuseport" : ""} backlog=4096;`).join("\n")}
    location = ${SMALL_PATH} { default_type text/plain; return 200 "${SMALL_BODY.trimEnd()}\\n"; }
    location = ${LARGE_PATH} { root ${www}; default_type application/octet-stream; }
    location / { return 404; }
  }
  server {
    listen 127.0.0.1:${statusPort};
    location = ${STATUS_PATH} { stub_status; }
  }
}
`,
    cpus,
  );
}
