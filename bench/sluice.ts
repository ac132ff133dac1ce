// Sluice as a child process, the way it is deployed: `bun gateway/cli.ts --config <json>`, one route to a
// pool holding the backend, access log and admin listener off.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startChild, type Child } from "./procs.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** The Bun running this script, else the project's own. */
function bunBinary(): string {
  return typeof Bun !== "undefined" ? process.execPath : join(REPO, "node_modules", ".bin", "bun");
}

export function startSluice(dir: string, port: number, backendPort: number): Child {
  const path = join(dir, "sluice.json");
  writeFileSync(path, JSON.stringify({
    listen: `127.0.0.1:${port}`,
    admin: false,
    accessLog: false,
    pools: { backend: { servers: [{ url: `http://127.0.0.1:${backendPort}` }] } },
    routes: [{ name: "all", pool: "backend" }],
  }, null, 2));
  return startChild("sluice", bunBinary(), [join(REPO, "gateway", "cli.ts"), "--config", path], dir, {
    // Bun caches transpiled large files under ~/.bun: keep the benchmark from leaving files behind.
    BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0",
  });
}
