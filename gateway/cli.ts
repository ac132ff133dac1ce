#!/usr/bin/env bun
// The command line: `sluice [--config PATH] [--workers N]` runs the gateway; `sluice check --config PATH`
// validates a config; `sluice health` probes a running gateway's /healthz. Startup problems print one clear line
// each and exit 1.
import { cwd } from "node:process";
import { parseArgs } from "node:util";
import { getRuntime } from "./runtime/current.ts";
import { findDefaultConfig } from "./config/load.ts";
import { checkConfig } from "./config/check.ts";
import { readConfigBytes, watchConfigFile } from "./config/watch.ts";
import { ConfigError } from "./config/errors.ts";
import { PluginLoadError } from "./plugin/load.ts";
import { balancerNames } from "./balancing/registry.ts";
import { startGateway, type Gateway } from "./gateway.ts";
import type { ReloadTrigger } from "./reload-result.ts";
import { demoBanner, demoConfig } from "./demo/demo.ts";
import { exitWithPrimary, followPrimary, startWorkers, STICKY_SECRET_ENV, WORKER_ENV, workerCount, type WorkerGroup } from "./workers.ts";
import { VERSION } from "./version.ts";
import { DEFAULT_HEALTH_URL, probeHealth } from "./health-probe.ts";
import type { Runtime } from "./runtime/types.ts";

const USAGE = `Usage:
  sluice [--config PATH] [--workers N]   run the gateway (no config: ./sluice.config.ts, ./sluice.config.json, else the demo)
         [--watch-config]                reload when the config file changes on disk (a mounted ConfigMap), as SIGHUP does
  sluice check --config PATH             validate a config: prints "ok", or one line per problem
  sluice health [--url URL]              exit 0 if URL (default ${DEFAULT_HEALTH_URL}) answers 200, else 1
  sluice --version | --help`;

async function main(): Promise<number> {
  const runtime = await getRuntime();
  let parsed;
  try {
    parsed = parseArgs({
      args: runtime.args,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        workers: { type: "string", short: "w" },
        "watch-config": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
        url: { type: "string" },
      },
    });
  } catch (error) {
    console.error(`sluice: ${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) return void console.log(USAGE), 0;
  if (values.version) return void console.log(`sluice ${VERSION} (${runtime.name} ${runtime.version})`), 0;

  const command = positionals[0] ?? "run";
  if (command === "check") {
    const path = values.config ?? findDefaultConfig(cwd());
    if (!path) {
      console.error("sluice check: no config: pass --config PATH");
      return 1;
    }
    const result = await checkConfig(path, balancerNames as string[]);
    console.log(result.ok ? "ok" : result.lines.join("\n"));
    return result.ok ? 0 : 1;
  }
  if (command === "health") {
    const result = await probeHealth(values.url ?? DEFAULT_HEALTH_URL);
    (result.ok ? console.log : console.error)(result.line);
    return result.ok ? 0 : 1;
  }
  if (command !== "run") {
    console.error(`sluice: unknown command "${command}"\n${USAGE}`);
    return 1;
  }
  let workers: number | undefined;
  if (values.workers !== undefined) {
    workers = values.workers === "auto" ? workerCount("auto") : Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1) {
      console.error(`sluice: --workers: expected a whole number of at least 1 or "auto" (got ${values.workers})`);
      return 1;
    }
  }
  return run(values.config, workers, values["watch-config"] === true, runtime);
}

async function run(configFlag: string | undefined, workersFlag: number | undefined, watchConfig: boolean, runtime: Runtime): Promise<number> {
  const configPath = configFlag ?? findDefaultConfig(cwd());
  const isWorker = runtime.env(WORKER_ENV) !== undefined;
  let gateway: Gateway;
  let workers: WorkerGroup | undefined;
  // A reload from SIGHUP or the admin's POST /reload: the --workers processes reload too.
  const reloadAll = (trigger: ReloadTrigger) => {
    workers?.signal("SIGHUP");
    return gateway.reload(undefined, trigger);
  };
  const reloadFromDisk = async (why: string, trigger: ReloadTrigger) => {
    if (!configPath) return;
    try {
      await reloadAll(trigger);
      if (!isWorker) console.error(`sluice: reloaded ${configPath}${why}`);
    } catch (error) {
      console.error(`sluice: reload refused, the running config stays:\n${startupMessage(error, configPath)}`);
    }
  };
  // Read before the config is loaded: a change made while the gateway starts is then still seen as one.
  const bytesAtStart = watchConfig && configPath && !isWorker ? await readConfigBytes(configPath) : undefined;
  try {
    gateway = configPath
      ? await startGateway({ configPath, runtime, workers: workersFlag, primary: !isWorker, stickySecret: runtime.env(STICKY_SECRET_ENV), reloadAll })
      : await startGateway({ config: await demoConfig(runtime, runtime.env("SLUICE_DEMO_LISTEN") ?? ":8080", runtime.env("SLUICE_DEMO_ADMIN") ?? "127.0.0.1:9901"), runtime });
  } catch (error) {
    console.error(startupMessage(error, configPath));
    return 1;
  }
  // The demo's upstreams live in this process: it always runs as one.
  workers = configPath && !isWorker && gateway.workers > 1 ? await startWorkers(runtime, gateway.workers - 1, runtime.args, gateway.stickySecret, gateway) : undefined;
  gateway.workerGroup = workers;
  // Only the first process watches: reloadAll passes the reload on to the --workers processes.
  if (watchConfig && configPath && !isWorker) await watchConfigFile(configPath, () => reloadFromDisk(" (the file changed)", "watch"), bytesAtStart);
  if (isWorker) {
    exitWithPrimary(runtime);
    followPrimary(runtime, gateway);
  }
  else if (configPath) console.error(`sluice: serving ${gateway.listeners().map((l) => `${l.kind} ${l.address}`).join(", ")} (config ${configPath}${gateway.workers > 1 ? `, ${gateway.workers} workers` : ""})`);
  else console.log(demoBanner(gateway.url.replace("127.0.0.1", "localhost"), gateway.adminUrl));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    if (!isWorker) console.error("sluice: stopping: finishing in-flight requests");
    workers?.signal("SIGTERM");
    await Promise.all([gateway.stop(), workers?.exited()]);
    runtime.exit(0);
  };
  runtime.onSignal("SIGTERM", stop);
  runtime.onSignal("SIGINT", stop);
  // SIGUSR1 (logrotate's postrotate): every process opens its access log file again.
  runtime.onSignal("SIGUSR1", () => {
    workers?.signal("SIGUSR1");
    void gateway.reopenLogs();
  });
  runtime.onSignal("SIGHUP", () => reloadFromDisk("", "signal"));
  return -1; // keep running
}

function startupMessage(error: unknown, configPath: string | undefined): string {
  if (error instanceof ConfigError || error instanceof PluginLoadError) return error.message;
  const e = error as { code?: string; message?: string; syscall?: string; port?: number };
  if (e?.code === "EADDRINUSE" || /in use|EADDRINUSE/i.test(e?.message ?? "")) {
    return `sluice: cannot listen: address already in use (${e.message})`;
  }
  return `sluice: cannot start${configPath ? ` with ${configPath}` : ""}: ${e?.message ?? String(error)}`;
}

const code = await main();
if (code >= 0) (await getRuntime()).exit(code);
