#!/usr/bin/env bun
// `npm run soak`: Sluice for ten minutes (--minutes N) in front of two nginx backends, under wrk paced to a
// fixed rate, while every 10 s one backend is killed with SIGKILL and started again, every 30 s the config is
// reloaded (SIGHUP after rewriting the file, then POST /reload, in turn), and a few slow clients read and send
// at a crawl. The gateway's RSS, open fds, requests and errors are sampled every second; bench/SOAK.md gets a
// dated table (one row per 10 s) and the verdict, bench/soak.svg the plot.
//
// The pace: wrk2 (a fixed-rate wrk) is not available, so wrk runs a Lua script whose delay() makes each
// connection wait connections/rate seconds before each request; the throughput wrk measured is reported.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LARGE_BYTES, LARGE_PATH, SMALL_BODY } from "./backend.ts";
import { benchLifecycle } from "./lifecycle.ts";
import { killLoadTool, runLoadTool } from "./load-tool.ts";
import { freePort, missingTools, tail, waitForHttp, type Child } from "./procs.ts";
import { startSluiceProcess } from "./sluice-process.ts";
import { SoakBackend } from "./soak-backends.ts";
import { parseSoakOptions, USAGE, type SoakOptions } from "./soak-options.ts";
import { flatness, renderSoakMarkdown, rowsOf, type SoakEvent } from "./soak-report.ts";
import { startSampler } from "./soak-sampler.ts";
import { startSlowClients } from "./soak-slow-clients.ts";
import { renderSoakSvg } from "./soak-svg.ts";
import { parseWrk } from "./wrk.ts";

const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));
const lifecycle = benchLifecycle();

/** The gateway's config; `generation` changes b2's weight, so that every reload swaps in a different config. */
function gatewayConfig(port: number, adminPort: number, b1: SoakBackend, b2: SoakBackend, generation: number): object {
  const passive = { maxFails: 1, failTimeout: "1s" };
  return {
    listen: `127.0.0.1:${port}`,
    admin: { listen: `127.0.0.1:${adminPort}` },
    accessLog: false,
    pools: {
      app: {
        retries: 1,
        servers: [
          { url: b1.url, id: "b1", ...passive },
          { url: b2.url, id: "b2", weight: 1 + (generation % 2), ...passive },
        ],
      },
    },
    routes: [{ name: `app-${generation}`, pool: "app" }],
  };
}

/** wrk's Lua pace: every connection waits `delayMs` before each request. */
function paceScript(delayMs: number): string {
  return `-- Written by bench/soak.ts: a fixed pace per connection (wrk2 is not available).
function delay()
  return ${delayMs}
end
`;
}

async function main(): Promise<number> {
  let options: SoakOptions | "help";
  try {
    options = parseSoakOptions(process.argv.slice(2), process.env, BENCH_DIR);
  } catch (error) {
    console.error(`soak: ${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const missing = missingTools(["wrk", "nginx"]);
  if (missing.length > 0) {
    console.error(`soak: missing ${missing.join(", ")}: apt-get install -y ${missing.join(" ")}`);
    return 1;
  }
  const seconds = Math.round(options.minutes * 60);
  const dir = lifecycle.makeTemp("sluice-soak-", options.keepTemp);
  // nginx workers drop to an unprivileged user when started as root: they must be able to read the 1 MB file.
  chmodSync(dir, 0o755);
  const b1 = await SoakBackend.start("b1", dir);
  const b2 = await SoakBackend.start("b2", dir);
  const port = await freePort();
  const adminPort = await freePort();
  const admin = `http://127.0.0.1:${adminPort}`;
  let generation = 0;
  const gateway = startSluiceProcess("bun", dir, "sluice", gatewayConfig(port, adminPort, b1, b2, generation), null);
  await waitForHttp(gateway, `http://127.0.0.1:${port}/`, SMALL_BODY.length);

  const delayMs = (options.connections * 1000) / options.rate;
  const script = join(dir, "pace.lua");
  writeFileSync(script, paceScript(delayMs));
  console.error(
    `soak: ${options.minutes} min, wrk -c${options.connections} paced to ${options.rate} req/s, a backend restart every ${options.restartEvery} s, a reload every ${options.reloadEvery} s, ${options.slowReaders} slow readers, ${options.slowSenders} slow senders`,
  );

  const startedAt = Date.now();
  const sampler = startSampler(gateway.pid, `${admin}/metrics`, startedAt);
  const slow = startSlowClients(port, LARGE_PATH, LARGE_BYTES, options.slowReaders, options.slowSenders);
  const wrkArgs = ["-t1", `-c${options.connections}`, `-d${seconds}s`, "--timeout", "5s", "--latency", "-s", script, `http://127.0.0.1:${port}/`];
  const wrk = runLoadTool("wrk", wrkArgs, (seconds + 60) * 1000);

  const events: SoakEvent[] = [];
  const elapsed = () => (Date.now() - startedAt) / 1000;
  const note = (what: string) => {
    events.push({ t: elapsed(), what });
    console.error(`soak: ${elapsed().toFixed(0).padStart(4)} s  ${what}`);
  };
  let restarts = 0;
  let reloads = 0;
  let reloadsFailed = 0;
  const reload = async () => {
    generation++;
    // The file sluice-process.ts wrote the config to.
    writeFileSync(join(dir, "sluice.json"), JSON.stringify(gatewayConfig(port, adminPort, b1, b2, generation), null, 2));
    const how = reloads % 2 === 0 ? "SIGHUP" : "POST /reload";
    const ok = how === "SIGHUP" ? await reloadBySignal(gateway) : await reloadByAdmin(admin);
    reloads++;
    if (!ok) reloadsFailed++;
    note(`reload by ${how}${ok ? "" : " FAILED"}`);
  };

  // The schedule: restarts and reloads at their times until the load ends.
  let nextRestart = options.restartEvery;
  let nextReload = options.reloadEvery;
  let reportedMinute = 0;
  while (true) {
    const next = Math.min(nextRestart, nextReload);
    if (next >= seconds - 1) break;
    await new Promise((r) => setTimeout(r, Math.max(0, (next - elapsed()) * 1000)));
    if (nextRestart <= nextReload) {
      const backend = restarts % 2 === 0 ? b1 : b2;
      await backend.restart();
      restarts++;
      note(`${backend.name} killed (-9) and started again`);
      nextRestart += options.restartEvery;
    } else {
      await reload();
      nextReload += options.reloadEvery;
    }
    // Once a minute, where things stand.
    const last = sampler.samples.at(-1);
    if (last && Math.floor(elapsed() / 60) > reportedMinute) {
      reportedMinute = Math.floor(elapsed() / 60);
      console.error(
        `soak: ${elapsed().toFixed(0).padStart(4)} s  RSS ${last.rssMB.toFixed(1)} MB, ${last.fds} fds, ${last.requests} answers, ${last.errors} 5xx`,
      );
    }
  }

  const run = await wrk;
  await slow.stop();
  await sampler.stop();
  if (run.code !== 0) throw new Error(`wrk ${wrkArgs.join(" ")} failed (${run.signal ?? `exit ${run.code}`}):\n${run.output}`);
  const measured = parseWrk(run.output);
  if (gateway.exited) throw new Error(`the gateway exited during the run (code ${gateway.exitCode}):\n${tail(gateway.logPath)}`);

  const rows = rowsOf(sampler.samples, events, seconds);
  const rss = flatness(rows, (r) => r.rssMB);
  const fds = flatness(rows, (r) => r.fds);
  const last = sampler.samples.at(-1);
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const markdown = renderSoakMarkdown({
    date,
    minutes: options.minutes,
    setup:
      `Load: \`wrk -t1 -c${options.connections} -d${seconds}s\` on \`GET /\` (a 100-byte answer), each connection paced by a Lua ` +
      `\`delay()\` of ${delayMs.toFixed(1)} ms (wrk2 is not available): at most ${options.rate} req/s. Two nginx backends behind one ` +
      `pool (\`retries: 1\`, \`maxFails: 1\`, \`failTimeout: 1s\`); every ${options.restartEvery} s one of them, in turn, is killed ` +
      `with SIGKILL (master and worker) and started again on the same port. Every ${options.reloadEvery} s the config file is ` +
      `rewritten (b2's weight and the route's name change) and reloaded, by SIGHUP and by \`POST /reload\` in turn. ` +
      `${options.slowReaders} slow readers download a 1 MiB answer at about 128 KiB/s, over and over; ${options.slowSenders} slow ` +
      `senders send their request head a line every 250 ms.`,
    environment: `Machine: ${availableParallelism()} cores, shared by the gateway (Bun, one process), wrk, both nginx backends and this harness; nothing pinned.`,
    rows,
    rss,
    fds,
    totals: [
      `wrk: ${measured.requests} requests, ${Math.round(measured.requestsPerSec)} req/s measured, p50 ${measured.p50ms.toFixed(2)} ms, p99 ${measured.p99ms.toFixed(2)} ms, ${measured.errors} errors (socket errors and non-2xx answers)`,
      `gateway: ${last?.requests ?? "?"} answers in all, ${last?.errors ?? "?"} of them 5xx`,
      `slow clients: ${slow.tally.downloads} slow downloads of 1 MiB (${slow.tally.downloadsCut} cut short, ${slow.tally.downloadsRefused} not answered 200), ${slow.tally.heads} slow heads (${slow.tally.headsFailed} not answered 200)`,
      `${restarts} backend restarts, ${reloads} reloads (${reloadsFailed} failed)`,
    ],
  });
  const svg = renderSoakSvg(
    sampler.samples,
    seconds,
    rss,
    fds,
    `Sluice soak, ${date}: ${options.minutes} min, a backend killed every ${options.restartEvery} s, a reload every ${options.reloadEvery} s`,
  );
  writeFileSync(join(options.outDir, "SOAK.md"), markdown);
  writeFileSync(join(options.outDir, "soak.svg"), svg);
  console.log(markdown.slice(markdown.indexOf("## ")));
  console.error(`soak: wrote ${join(options.outDir, "SOAK.md")} and ${join(options.outDir, "soak.svg")}`);
  return rss?.flat === false || fds?.flat === false ? 1 : 0;
}

/** SIGHUP, then wait for the gateway to say it reloaded (true) or refused the config (false). */
async function reloadBySignal(gateway: Child): Promise<boolean> {
  const said = () => {
    const log = readFileSync(gateway.logPath, "utf8");
    return { reloaded: log.match(/sluice: reloaded /g)?.length ?? 0, refused: log.match(/sluice: reload refused/g)?.length ?? 0 };
  };
  const before = said();
  process.kill(gateway.pid, "SIGHUP");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const now = said();
    if (now.reloaded > before.reloaded) return true;
    if (now.refused > before.refused) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function reloadByAdmin(admin: string): Promise<boolean> {
  try {
    const response = await fetch(`${admin}/reload`, { method: "POST", signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

await lifecycle.run(main, killLoadTool);
