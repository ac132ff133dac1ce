// The same TCP listener on Deno: tests/helpers/l4-deno-smoke.ts runs under node_modules/.bin/deno with the
// deno adapter (Deno.listen / Deno.connect, read()/write() loops, closeWrite for half-close) and reports
// what it saw as one JSON line.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { repoRoot } from "./helpers/process.ts";

const deno = resolve(repoRoot, "node_modules/.bin/deno");

test("deno: a TCP listener echoes 8 MB with half-close, answers after FIN, 50 connections at once, holds a flood back, and ends a client whose server reset", async () => {
  if (!existsSync(deno)) throw new Error("deno is missing: run `npm ci` (the deno npm package is a devDependency)");
  const proc = Bun.spawn(
    [deno, "run", "--unstable-no-legacy-abort", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", "tests/helpers/l4-deno-smoke.ts"],
    {
      cwd: repoRoot,
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const timer = setTimeout(() => proc.kill(), 40_000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`deno exited ${code}:\n${err}\n${out}`);
  const result = JSON.parse(out.trim().split("\n").at(-1)!);
  console.log(
    `deno: 8 MB echoed in ${result.echoMs} ms; flood held at ${(result.floodedWhilePaused / 1048576).toFixed(1)} MB while the client did not read (RSS ${result.rssWhilePausedMB} MB)`,
  );
  expect(result.runtime).toBe("deno");
  expect(result.echoBytes).toBe(8 * 1024 * 1024);
  expect(result.echoSame).toBe(true);
  expect(result.afterFin).toBe("got 100000 bytes");
  expect(result.manyOk).toBe(true);
  expect(result.accepted).toBe(51);
  expect(result.active).toBe(0);
  expect(result.floodBytes).toBe(32 * 1024 * 1024);
  expect(result.floodedWhilePaused).toBeLessThan(16 * 1024 * 1024);
  expect(["end", "ConnectionReset"]).toContain(result.resetSeen);
  expect(result.resetMs).toBeLessThan(1_000);
  expect(result.resets).toBe(1);
}, 45_000);
