// Sluice as a child process, the way it is deployed: `bun gateway/cli.ts --config <json>`, or the same
// gateway under `deno run` with the permission flags of deno.json's start task. The binary is started
// itself (not through npm, deno task or a shell), so the pid the benchmark measures is the gateway's.
// The config carries the benchmark's route table in front of the site route; access log and admin
// listener are off, as the other proxies log nothing. Request IDs and X-Forwarded-* are always on in Sluice.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pinned } from "./pinning.ts";
import { startChild, type Child } from "./procs.ts";
import { sluicePools, sluiceRoutes } from "./route-table.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

export type SluiceRuntime = "bun" | "deno";

/** The Bun running this script, else the project's own. */
function bunBinary(): string {
  return typeof Bun !== "undefined" ? process.execPath : join(REPO, "node_modules", ".bin", "bun");
}

/** The project's Deno (a devDependency). */
export function denoBinary(): string {
  return join(REPO, "node_modules", ".bin", "deno");
}

/** deno.json's start task, without the task runner's `sh -c exec` around it. */
const DENO_FLAGS = ["--unstable-no-legacy-abort", "--unstable-net", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", "--allow-run"];

export function startSluice(dir: string, runtime: SluiceRuntime, port: number, backendPort: number, decoyPort: number, cpus: string | null): Child {
  const name = runtime === "bun" ? "sluice" : "sluice-deno";
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({
    listen: `127.0.0.1:${port}`,
    admin: false,
    accessLog: false,
    pools: { backend: { servers: [{ url: `http://127.0.0.1:${backendPort}` }] }, ...sluicePools(decoyPort) },
    routes: sluiceRoutes("backend"),
  }, null, 2));
  const cli = [join(REPO, "gateway", "cli.ts"), "--config", path];
  if (runtime === "bun") {
    return startChild(name, ...pinned(cpus, bunBinary(), cli), dir, {
      // Bun caches transpiled large files under ~/.bun: keep the benchmark from leaving files behind.
      BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0",
    });
  }
  // --config: the project's deno.json (import map, node_modules) whatever the working directory.
  return startChild(name, ...pinned(cpus, denoBinary(), ["run", "--config", join(REPO, "deno.json"), ...DENO_FLAGS, ...cli]), dir, {
    // Deno's module and code caches go to the temp dir, which is removed at the end.
    DENO_DIR: join(dir, "deno-dir"),
    DENO_NO_UPDATE_CHECK: "1",
  });
}
