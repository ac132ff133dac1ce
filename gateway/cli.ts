#!/usr/bin/env bun
// The command line: `sluice [run] [--config PATH] [--workers N]` runs the gateway; `sluice check` checks a config;
// `sluice schema` prints the config's JSON Schema; `sluice health` probes a running gateway's /healthz;
// `sluice help [COMMAND]` says all of it (cli-help.ts). Startup problems print one clear line each and exit 1;
// a command line Sluice cannot take exits 2.
import { cwd, stdout } from "node:process";
import { getRuntime } from "./runtime/current.ts";
import { findDefaultConfig } from "./config/load.ts";
import { checkConfig } from "./config/check.ts";
import { readConfigBytes, watchConfigFile } from "./config/watch.ts";
import { ConfigError, didYouMean } from "./config/errors.ts";
import { configJsonSchemaText } from "./config/json-schema.ts";
import { parseCommandLine, UsageError, type CommandLine } from "./cli-args.ts";
import { COMMANDS, EXIT, commandHelp, findCommand, mainHelp } from "./cli-help.ts";
import { PluginLoadError } from "./plugin/load.ts";
import { balancerNames } from "./balancing/registry.ts";
import { startGateway, type Gateway } from "./gateway.ts";
import type { ReloadTrigger } from "./reload-result.ts";
import { demoBanner, demoConfig } from "./demo/demo.ts";
import { exitWithPrimary, followPrimary, startWorkers, STICKY_SECRET_ENV, WORKER_ENV, workerCount, type WorkerGroup } from "./workers.ts";
import { VERSION } from "./version.ts";
import { DEFAULT_HEALTH_URL, probeHealth } from "./health-probe.ts";
import type { Runtime } from "./runtime/types.ts";

async function main(): Promise<number> {
  const runtime = await getRuntime();
  let line: CommandLine;
  try {
    line = parseCommandLine(runtime.args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(error.message);
  }
  const { command, named, values, args } = line;
  const flag = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  if (values.version) return print(`sluice ${VERSION} (${runtime.name} ${runtime.version})`);
  if (values.help) return print(named ? commandHelp(command) : mainHelp());

  switch (command.name) {
    case "help": {
      if (args[0] === undefined) return print(mainHelp());
      const about = findCommand(args[0]);
      if (!about) {
        const names = COMMANDS.map((c) => c.name);
        return usageError(`help: no command "${args[0]}"${didYouMean(args[0], names)}`);
      }
      return print(commandHelp(about));
    }
    case "check": {
      const path = flag("config") ?? findDefaultConfig(cwd());
      if (!path) {
        console.error("sluice check: no config: pass --config PATH");
        return EXIT.problem;
      }
      const result = await checkConfig(path, balancerNames as string[]);
      console.log(result.ok ? "ok" : result.lines.join("\n"));
      return result.ok ? EXIT.ok : EXIT.problem;
    }
    case "schema": {
      // Written in full before the exit: the schema is larger than a pipe holds at once.
      const text = await configJsonSchemaText();
      await new Promise<void>((done) => stdout.write(text, () => done()));
      return EXIT.ok;
    }
    case "health": {
      const result = await probeHealth(flag("url") ?? DEFAULT_HEALTH_URL);
      (result.ok ? console.log : console.error)(result.line);
      return result.ok ? EXIT.ok : EXIT.problem;
    }
  }
  const workersFlag = flag("workers");
  if (workersFlag !== undefined && workersFlag !== "auto" && !/^[1-9]\d*$/.test(workersFlag)) {
    return usageError(`--workers: expected a whole number of at least 1 or "auto" (got ${workersFlag})`);
  }
  const workers = workersFlag === undefined ? undefined : workersFlag === "auto" ? workerCount("auto") : Number(workersFlag);
  return run(flag("config"), workers, values["watch-config"] === true, runtime);
}

/** Help or the version on stdout; exit 0. */
function print(text: string): number {
  console.log(text);
  return EXIT.ok;
}

/** A command line Sluice cannot take: what was wrong, where help is, exit 2. */
function usageError(message: string): number {
  console.error(`sluice: ${message}\nRun "sluice --help" for every command and flag.`);
  return EXIT.usage;
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
      : await startGateway({
          config: await demoConfig(runtime, runtime.env("SLUICE_DEMO_LISTEN") ?? ":8080", runtime.env("SLUICE_DEMO_ADMIN") ?? "127.0.0.1:9901"),
          runtime,
        });
  } catch (error) {
    console.error(startupMessage(error, configPath));
    return 1;
  }
  // The demo's upstreams live in this process: it always runs as one.
  workers =
    configPath && !isWorker && gateway.workers > 1 ? await startWorkers(runtime, gateway.workers - 1, runtime.args, gateway.stickySecret, gateway) : undefined;
  gateway.workerGroup = workers;
  // Only the first process watches: reloadAll passes the reload on to the --workers processes.
  if (watchConfig && configPath && !isWorker) await watchConfigFile(configPath, () => reloadFromDisk(" (the file changed)", "watch"), bytesAtStart);
  if (isWorker) {
    exitWithPrimary(runtime);
    followPrimary(runtime, gateway);
  } else if (configPath)
    console.error(
      `sluice: serving ${gateway
        .listeners()
        .map((l) => `${l.kind} ${l.address}`)
        .join(", ")} (config ${configPath}${gateway.workers > 1 ? `, ${gateway.workers} workers` : ""})`,
    );
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
