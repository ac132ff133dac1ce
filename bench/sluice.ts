// Sluice in front of run.ts's backend, on Bun or on Deno. The config carries the benchmark's route table in
// front of the site route; access log and admin listener are off, as the other proxies log nothing.
// Request IDs and X-Forwarded-* are always on in Sluice.
import type { Child } from "./procs.ts";
import { sluicePools, sluiceRoutes } from "./route-table.ts";
import { startSluiceProcess, type SluiceRuntime } from "./sluice-process.ts";

export function startSluice(dir: string, runtime: SluiceRuntime, port: number, backendPort: number, decoyPort: number, cpus: string | null): Child {
  const name = runtime === "bun" ? "sluice" : "sluice-deno";
  return startSluiceProcess(
    runtime,
    dir,
    name,
    {
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: false,
      pools: { backend: { servers: [{ url: `http://127.0.0.1:${backendPort}` }] }, ...sluicePools(decoyPort) },
      routes: sluiceRoutes("backend"),
    },
    cpus,
  );
}
