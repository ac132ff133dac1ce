#!/usr/bin/env node
// `sluice` as npm installs it (npx sluice, bunx sluice, node_modules/.bin/sluice). The gateway is TypeScript
// that runs on Bun or Deno, not on Node, so this plain-JavaScript launcher only picks a runtime, starts
// gateway/cli.ts with it, passes signals on and exits as the gateway did. Node is needed for nothing else.
//
// The runtime, first found wins:
//   1. SLUICE_RUNTIME=bun|deno in the environment (the binary of that name on PATH; for "bun" the one from
//      the bun package first);
//   2. the runtime this launcher already runs in (`bunx --bun sluice`, `deno run npm:sluice`);
//   3. the binary of the `bun` package, a dependency of Sluice, so an install with only Node and npm works;
//   4. `bun`, then `deno`, on PATH.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "gateway", "cli.ts");

// The permissions of deno.json's start task: the gateway listens, reads its config and certificates, reads
// the environment and system figures, and starts its --workers processes.
const DENO_RUN = ["run", "--unstable-no-legacy-abort", "--unstable-net", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", "--allow-run"];

// The gateway's own signals: stop (TERM, INT), reload (HUP), reopen the access log (USR1).
const FORWARDED = ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1"];

/** The bun package's binary, unless it is still the placeholder its install script replaces (npm --ignore-scripts). */
function bunFromPackage() {
  try {
    const bunDir = dirname(createRequire(import.meta.url).resolve("bun/package.json"));
    const binary = join(bunDir, "bin", "bun.exe");
    return isExecutableImage(binary) ? binary : undefined;
  } catch {
    return undefined; // not installed (e.g. an install that left optional or platform packages out)
  }
}

/** ELF, Mach-O or PE: the placeholder the bun package ships before its install script runs is a text file. */
function isExecutableImage(path) {
  const head = Buffer.alloc(4);
  let fd;
  try {
    fd = openSync(path, "r");
    readSync(fd, head, 0, 4, 0);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const word = head.readUInt32BE(0);
  return word === 0x7f454c46 || [0xcffaedfe, 0xcefaedfe, 0xfeedfacf, 0xfeedface, 0xcafebabe].includes(word) || head.readUInt16BE(0) === 0x4d5a;
}

function onPath(name) {
  const probe = spawnSync(name, ["--version"], { stdio: "ignore" });
  return probe.error === undefined && probe.status === 0 ? name : undefined;
}

/** [command, ...arguments before the gateway's own], or undefined. */
function chooseRuntime() {
  const wanted = process.env.SLUICE_RUNTIME;
  if (wanted === "deno") return onPath("deno") && ["deno", ...DENO_RUN, cli];
  if (wanted === "bun") {
    const bun = bunFromPackage() ?? onPath("bun");
    return bun && [bun, cli];
  }
  if (wanted !== undefined && wanted !== "") {
    console.error(`sluice: SLUICE_RUNTIME must be "bun" or "deno" (got "${wanted}")`);
    process.exit(1);
  }
  if (process.versions.bun) return [process.execPath, cli];
  if (process.versions.deno) return [process.execPath, ...DENO_RUN, cli];
  const bun = bunFromPackage() ?? onPath("bun");
  if (bun) return [bun, cli];
  const deno = onPath("deno");
  return deno && [deno, ...DENO_RUN, cli];
}

const runtime = chooseRuntime();
if (!runtime) {
  console.error(
    `sluice: no runtime found: Sluice runs on Bun or Deno. The "bun" package it depends on has no usable binary here ` +
      `(installed with --ignore-scripts? run "npm rebuild bun"), and neither "bun" nor "deno" is on PATH` +
      (process.env.SLUICE_RUNTIME ? ` (SLUICE_RUNTIME=${process.env.SLUICE_RUNTIME})` : ""),
  );
  process.exit(1);
}

const [command, ...prefix] = runtime;
const gateway = spawn(command, [...prefix, ...process.argv.slice(2)], { stdio: "inherit" });
// While the gateway runs, this process only relays: a signal sent to the launcher's pid reaches the gateway.
// (A Ctrl-C in a terminal reaches both; the gateway's stop is the same for one signal or two.)
for (const signal of FORWARDED) {
  process.on(signal, () => {
    if (gateway.exitCode === null) gateway.kill(signal);
  });
}
gateway.on("error", (error) => {
  console.error(`sluice: cannot start ${command}: ${error.message}`);
  process.exit(1);
});
gateway.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so that whoever started `sluice` sees what happened to the gateway (the
    // shell's 128 + n if that signal does not end this process after all).
    for (const s of FORWARDED) process.removeAllListeners(s);
    process.exitCode = 128 + (constants.signals[signal] ?? 0);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
