// Sluice as a child process, the way it is deployed: `bun gateway/cli.ts --config <json>`, or the same
// gateway under `deno run` with the permission flags of deno.json's start task. The binary is started
// itself (not through npm, deno task or a shell), so the pid the benchmark measures is the gateway's.
// Every Sluice of the benchmarks (sluice.ts, stream-servers.ts, l4-servers.ts) is started this way.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pinned } from "./pinning.ts";
import { startChild, type Child } from "./procs.ts";
import { BUN_ENV, bunBinary, denoBinary } from "./runtimes.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

export type SluiceRuntime = "bun" | "deno";

/** deno.json's start task, without the task runner's `sh -c exec` around it. */
const DENO_FLAGS = ["--unstable-no-legacy-abort", "--unstable-net", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", "--allow-run"];

export interface SluiceCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** `config` written to `dir/<name>.json`, and the command that runs the gateway with it on `runtime` (for a
 *  caller that starts it its own way, as l4-servers.ts does to raise its fd limit). */
export function sluiceCommand(runtime: SluiceRuntime, dir: string, name: string, config: object): SluiceCommand {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  const cli = [join(REPO, "gateway", "cli.ts"), "--config", path];
  if (runtime === "bun") return { command: bunBinary(), args: cli, env: BUN_ENV };
  return {
    command: denoBinary(),
    // --config: the project's deno.json (import map, node_modules) whatever the working directory.
    args: ["run", "--config", join(REPO, "deno.json"), ...DENO_FLAGS, ...cli],
    env: {
      // Deno's module and code caches go to the temp dir, which is removed at the end.
      DENO_DIR: join(dir, "deno-dir"),
      DENO_NO_UPDATE_CHECK: "1",
    },
  };
}

/** Sluice named `name` with `config` on `runtime`, on `cpus` (taskset list; null: anywhere). */
export function startSluiceProcess(runtime: SluiceRuntime, dir: string, name: string, config: object, cpus: string | null): Child {
  const { command, args, env } = sluiceCommand(runtime, dir, name, config);
  return startChild(name, ...pinned(cpus, command, args), dir, env);
}
