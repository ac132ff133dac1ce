// The JavaScript runtimes the benchmarks start children on (Sluice, the streaming upstream): which binary
// of each, and what a Bun child needs in its environment.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** The Bun running this script, else the project's own. */
export function bunBinary(): string {
  return typeof Bun !== "undefined" ? process.execPath : join(REPO, "node_modules", ".bin", "bun");
}

/** The environment of every Bun child. */
export const BUN_ENV = {
  // Bun caches transpiled large files under ~/.bun: keep the benchmark from leaving files behind.
  BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0",
};

/** The project's Deno (a devDependency). */
export function denoBinary(): string {
  return join(REPO, "node_modules", ".bin", "deno");
}
