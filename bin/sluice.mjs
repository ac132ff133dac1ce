#!/usr/bin/env node
// `sluice` as npm installs it (npx sluice, bunx sluice, node_modules/.bin/sluice). The gateway is TypeScript
// that runs on Bun, not on Node, so this plain-JavaScript launcher finds Bun, starts gateway/cli.ts with it,
// passes signals on and exits as the gateway did. Node is needed for nothing else.
//
// Bun, the first found: the Bun this launcher already runs in (`bunx --bun sluice`); the binary of the `bun`
// package, a dependency of Sluice, so that an install with only Node and npm works; `bun` on PATH.
// Deno is not among them: Deno, like Node, does not run TypeScript from node_modules. On Deno, Sluice runs
// from a checkout (`deno task start`).
import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "gateway", "cli.ts");

// The gateway's own signals: stop (TERM, INT), reload (HUP), reopen the access log (USR1).
const FORWARDED = ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1"];

/**
 * The bun package's binary. Its install script moves the binary out of the platform package (@oven/bun-linux-x64
 * and the like) into bin/bun.exe; where that script did not run (npm --ignore-scripts), bin/bun.exe is a text
 * placeholder and the binary is still in the platform package.
 */
function bunFromPackage() {
  let bunPackage;
  try {
    bunPackage = createRequire(import.meta.url).resolve("bun/package.json");
  } catch {
    return undefined; // not installed
  }
  const moved = join(dirname(bunPackage), "bin", "bun.exe");
  if (isExecutableImage(moved)) return moved;
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = process.arch === "arm64" ? "aarch64" : process.arch;
  for (const variant of ["", "-musl", "-android"]) {
    try {
      const platformPackage = createRequire(bunPackage).resolve(`@oven/bun-${os}-${arch}${variant}/package.json`);
      const binary = join(dirname(platformPackage), "bin", process.platform === "win32" ? "bun.exe" : "bun");
      if (isExecutableImage(binary)) return binary;
    } catch {
      // that variant is not installed for this machine
    }
  }
  return undefined;
}

/** ELF, Mach-O or PE, not a placeholder script. */
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

function findBun() {
  if (process.versions.bun) return process.execPath;
  return bunFromPackage() ?? onPath("bun");
}

const bun = findBun();
if (!bun) {
  console.error(
    `sluice: Bun not found: the "bun" package Sluice depends on has no usable binary here (installed with ` +
      `--ignore-scripts? run "npm rebuild bun"), and there is no "bun" on PATH`,
  );
  process.exit(1);
}

const gateway = spawn(bun, [cli, ...process.argv.slice(2)], { stdio: "inherit" });
// While the gateway runs, this process only relays: a signal sent to the launcher's pid reaches the gateway.
// (A Ctrl-C in a terminal reaches both; the gateway's stop is the same for one signal or two.)
for (const signal of FORWARDED) {
  process.on(signal, () => {
    if (gateway.exitCode === null) gateway.kill(signal);
  });
}
gateway.on("error", (error) => {
  console.error(`sluice: cannot start ${bun}: ${error.message}`);
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
