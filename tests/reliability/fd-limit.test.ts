// The gateway at its file-descriptor limit, as an operator meets it: `sluice --config FILE` as a child process
// under `ulimit -n 128`, on Bun and on Deno, with 200 clients connecting and staying. Bun's listener retried a
// failed accept at once, forever (a core at 100%); Deno's admin server exited on EMFILE. Now the gateway stops
// accepting before it runs out (and says so), stays up and nearly idle while saturated, keeps answering
// /healthz on the admin listener, and serves again once the clients have gone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Socket } from "node:net";
import { deadPort, processAlive, until } from "../helpers/common.ts";
import { cliPath, repoRoot, spawnCommand, type RunningProcess } from "../helpers/process.ts";
import { DENO_GATEWAY_FLAGS, denoPath } from "../helpers/engine-gateway.ts";
import { holdConnection } from "../helpers/held-connection.ts";

const FD_LIMIT = 128;
const CLIENTS = 200;
/** deno.json's start task, without its shell. */
const DENO_RUN = [denoPath, "run", "--config", resolve(repoRoot, "deno.json"), ...DENO_GATEWAY_FLAGS, "--allow-run"];

let dir: string;
let upstream: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-fd-limit-"));
  upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
});
afterAll(() => {
  upstream?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

/** CPU seconds (user + system, every thread) the process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ, 100 on Linux)
}

async function answers(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

for (const runtime of ["bun", "deno"] as const) {
  describe(`at the file-descriptor limit on ${runtime}`, () => {
    let gateway: RunningProcess;
    let port: number;
    let admin: string;

    beforeAll(async () => {
      port = await deadPort();
      const adminPort = await deadPort();
      admin = `http://127.0.0.1:${adminPort}`;
      const configPath = join(dir, `${runtime}.json`);
      writeFileSync(
        configPath,
        JSON.stringify({
          listen: `127.0.0.1:${port}`,
          admin: { listen: `127.0.0.1:${adminPort}` },
          accessLog: false,
          pools: { app: { servers: [{ url: `http://127.0.0.1:${upstream.port}` }] } },
          routes: [{ pool: "app" }],
        }),
      );
      const command = runtime === "bun" ? [process.execPath, cliPath] : [...DENO_RUN, cliPath];
      gateway = spawnCommand(["bash", "-c", `ulimit -n ${FD_LIMIT} && exec "$@"`, "bash", ...command, "--config", configPath]);
      await gateway.waitFor(/serving/, 30_000);
    });

    afterAll(async () => {
      await gateway?.stop("SIGKILL");
    });

    test(`${CLIENTS} clients that connect and stay: accepting pauses, the process stays up and nearly idle, /healthz answers, and it serves again once they are gone`, async () => {
      const pid = gateway.proc.pid;
      expect(await answers(`http://127.0.0.1:${port}/before`)).toBe(200);
      const sockets: Socket[] = [];
      try {
        for (let i = 0; i < CLIENTS; i++) await holdConnection(port, sockets);
        await gateway.waitFor(/(file descriptors in use|out of file descriptors): not accepting connections/, 5_000);

        // A second of saturation, with clients still trying to connect all along.
        const cpuBefore = cpuSeconds(pid);
        const started = Date.now();
        while (Date.now() - started < 1_000) await holdConnection(port, sockets);
        const cpu = cpuSeconds(pid) - cpuBefore;
        console.log(`${runtime}: ${(cpu).toFixed(2)} s of CPU over ${Date.now() - started} ms at the descriptor limit`);
        expect(cpu).toBeLessThan(0.5);
        expect(processAlive(pid)).toBe(true);
        expect(await answers(`${admin}/healthz`)).toBe(200);
      } finally {
        for (const socket of sockets) socket.destroy();
      }
      await until(async () => (await answers(`http://127.0.0.1:${port}/after`)) === 200, "the gateway serves again", 10_000, 100);
      await gateway.waitFor(/file descriptors available again/, 5_000);
      expect(processAlive(pid)).toBe(true);
    }, 30_000);
  });
}
