// What a run ran on: the versions of the runtimes and tools, the CPUs, and the commit of the code measured
// (with a mark when the working tree had uncommitted changes), so that a recorded table can be told apart
// from the next one.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { fileURLToPath } from "node:url";
import { toolPath } from "./procs.ts";
import { denoBinary } from "./runtimes.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

function firstMatch(command: string, args: string[], pattern: RegExp): string {
  const out = spawnSync(command, args, { encoding: "utf8" });
  return pattern.exec(`${out.stdout ?? ""}${out.stderr ?? ""}`)?.[1] ?? "?";
}

export type VersionedTool = "bun" | "deno" | "nginx" | "haproxy" | "wrk" | "curl";

const VERSION_OF: Record<VersionedTool, () => string> = {
  bun: () => `Bun ${typeof Bun !== "undefined" ? Bun.version : "?"}`,
  deno: () => `Deno ${firstMatch(denoBinary(), ["--version"], /^deno (\S+)/m)}`,
  nginx: () => `nginx ${firstMatch(toolPath("nginx"), ["-v"], /nginx\/(\S+)/)}`,
  haproxy: () => `HAProxy ${firstMatch(toolPath("haproxy"), ["-v"], /version (\S+?)(?:-\S+)? /)}`,
  wrk: () => `wrk ${firstMatch("wrk", ["-v"], /^wrk (\S+)/m)}`,
  curl: () => `curl ${firstMatch("curl", ["--version"], /^curl (\S+)/m)}`,
};

/** "Bun 1.2.3, nginx 1.22.1, …": the versions of `tools`, in that order. */
export function toolVersions(tools: VersionedTool[]): string {
  return tools.map((tool) => VERSION_OF[tool]()).join(", ");
}

export function machine(): string {
  let model = cpus()[0]?.model ?? "unknown CPU";
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? model;
  } catch {
    // keep os.cpus()'s
  }
  return `${cpus().length} CPUs (${model}), Linux ${release()}`;
}

/** The short commit hash, marked when the gateway's code (new files included) differs from it. */
export function codeVersion(): string {
  const head = spawnSync("git", ["-C", REPO, "rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  if (head.status !== 0) return "unknown commit";
  const status = spawnSync("git", ["-C", REPO, "status", "--porcelain", "--", "gateway", "plugins", "package.json"], { encoding: "utf8" });
  const dirty = (status.stdout ?? "").trim() !== "";
  return `commit ${head.stdout.trim()}${dirty ? " + uncommitted changes to the gateway" : ""}`;
}
