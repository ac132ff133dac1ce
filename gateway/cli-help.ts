// What `sluice --help` and `sluice help COMMAND` say: every command, flag, signal, environment variable and
// exit code, from one table each. The argument parser (cli-args.ts) reads the same flag table, so a flag
// cannot exist without its line of help.
import { DEFAULT_HEALTH_URL } from "./health-probe.ts";

export interface FlagSpec {
  name: string;
  short?: string;
  /** The value's placeholder (`PATH`); absent for a flag that takes none. */
  value?: string;
  text: string;
}

export interface CommandSpec {
  name: string;
  /** The arguments after the command's name, as the usage line shows them. */
  usage: string;
  summary: string;
  /** Paragraphs shown by `sluice help COMMAND` under the usage line. */
  details: string[];
  flags: FlagSpec[];
  exitCodes: [code: number, meaning: string][];
}

/** Exit codes, the same for every command. */
export const EXIT = { ok: 0, problem: 1, usage: 2 } as const;

const usageExit: [number, string] = [EXIT.usage, "unknown command or flag, a flag without its value, or a bad value"];

const CONFIG_FLAG: FlagSpec = {
  name: "config",
  short: "c",
  value: "PATH",
  text: "the config file (.ts, .js, .mjs or .json); without it ./sluice.config.ts, then ./sluice.config.json",
};

/** Flags every command takes. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: "help", short: "h", text: "print help (`sluice help COMMAND` or `sluice COMMAND --help` for one command) and exit 0" },
  { name: "version", short: "v", text: "print the version and the runtime, and exit 0" },
];

export const COMMANDS: CommandSpec[] = [
  {
    name: "run",
    usage: "[--config PATH] [--workers N|auto] [--watch-config]",
    summary: "run the gateway (the default command: `sluice` alone runs it)",
    details: [
      "Serves the config's listeners until SIGTERM or SIGINT. With no config file at all, it starts the built-in demo.",
      "Problems with the config, a port in use or an unreadable file print one line each and exit 1.",
    ],
    flags: [
      { ...CONFIG_FLAG, text: `${CONFIG_FLAG.text}; with neither, the built-in demo` },
      { name: "workers", short: "w", value: "N|auto", text: "N processes sharing the listen ports (auto: one per core), over the config's workers" },
      { name: "watch-config", text: "reload when the config file changes on disk (a mounted ConfigMap too), as SIGHUP does" },
    ],
    exitCodes: [[EXIT.ok, "stopped by SIGTERM or SIGINT"], [EXIT.problem, "could not start: config problems, a port in use, an unreadable file"], usageExit],
  },
  {
    name: "check",
    usage: "[--config PATH]",
    summary: "check a config: prints ok, or every problem, one line each",
    details: [
      "Every problem in one run, as `path.to.key: what is wrong (got VALUE)`: the shape of every key, references between",
      "sections (a route naming a pool that does not exist), route patterns, listener certificates and plugins (loaded",
      "and their options checked, then torn down).",
    ],
    flags: [CONFIG_FLAG],
    exitCodes: [[EXIT.ok, "the config is good (prints ok)"], [EXIT.problem, "the config has problems (one line each)"], usageExit],
  },
  {
    name: "schema",
    usage: "",
    summary: "print the JSON Schema of a config file, for editors",
    details: [
      "Write it next to a config with `sluice schema > sluice.schema.json` and name it in the config with",
      '"$schema": "./sluice.schema.json" for completion and checking as you type (the package ships it as',
      "node_modules/sluice/sluice.schema.json). sluice check checks what a schema cannot: references, addresses, patterns.",
    ],
    flags: [],
    exitCodes: [[EXIT.ok, "printed"], usageExit],
  },
  {
    name: "health",
    usage: "[--url URL]",
    summary: "probe a running gateway's /healthz: a container's health check",
    details: [`Exits 0 when URL answers 200 within 3 s, else prints why and exits 1.`],
    flags: [{ name: "url", value: "URL", text: `the URL to probe (default ${DEFAULT_HEALTH_URL})` }],
    exitCodes: [[EXIT.ok, "the gateway answered 200"], [EXIT.problem, "no answer, or not 200 (prints why)"], usageExit],
  },
  {
    name: "help",
    usage: "[COMMAND]",
    summary: "print this help, or one command's",
    details: [],
    flags: [],
    exitCodes: [[EXIT.ok, "printed"], usageExit],
  },
];

/** What each signal does to `sluice run`. */
export const SIGNALS: [names: string, effect: string][] = [
  ["SIGTERM, SIGINT", "stop accepting, finish in-flight requests (up to shutdownTimeout), exit 0; --workers processes stop too"],
  ["SIGHUP", "reload the config file (as POST /reload on the admin listener); a config with problems is refused and the running one stays"],
  ["SIGUSR1", "open the access log file again by its name (after logrotate moved it), in every process"],
];

/** Every environment variable the gateway reads. A test greps the source for names and fails on one missing here. */
export const ENVIRONMENT: [name: string, effect: string][] = [
  ["SLUICE_DEMO_LISTEN", "the demo's listen address, when started with no config (default :8080)"],
  ["SLUICE_DEMO_ADMIN", "the demo's admin address (default 127.0.0.1:9901)"],
  ["OTEL_SDK_DISABLED", "true: no tracing, whatever the config's telemetry says"],
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "the collector (/v1/traces appended) when telemetry.otlp is not set; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is"],
  ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "the traces URL, used as is"],
  ["OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_HEADERS", "headers sent with every export (an API key); telemetry.headers wins"],
  ["OTEL_EXPORTER_OTLP_CERTIFICATE", "PEM file of the CA of a collector over https (also as OTEL_EXPORTER_OTLP_TRACES_…)"],
  [
    "OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "PEM files of a client certificate for the collector (also as OTEL_EXPORTER_OTLP_TRACES_…)",
  ],
  [
    "OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_COMPRESSION",
    "time for one export, and gzip or none (each also as OTEL_EXPORTER_OTLP_TRACES_…); the config's telemetry keys win",
  ],
  ["OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "how spans are sent: http/protobuf (the default) or http/json"],
  ["OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES", "added to the traces' resource; telemetry.serviceName wins"],
  [
    "OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG",
    "the sampler (always_on, always_off, traceidratio, parentbased_…) and its ratio; telemetry.sampleRatio wins",
  ],
  ["OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "spans held at most, and per export; the config's telemetry keys win"],
  ["OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT", "time between exports, and for one export"],
  [
    "SLUICE_WORKER, SLUICE_CHANNEL, SLUICE_FIGURES, SLUICE_STICKY_SECRET",
    "set by the gateway for its --workers processes (which worker, how to reach the first process, the sticky key); never set them yourself",
  ],
];

/** What `sluice --help` prints: everything. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "sluice: an edge gateway for HTTP, TCP and UDP",
    "",
    "Usage:",
    ...COMMANDS.map((c) => `  sluice ${c.name === "run" ? "[run]" : c.name}${c.usage ? ` ${c.usage}` : ""}`),
    "  sluice --version | --help",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Flags:",
    ...flagLines(allFlags(), true),
    "",
    "Signals (sluice run):",
    ...table(SIGNALS),
    "",
    "Environment:",
    ...environmentLines(),
    "",
    "Exit codes:",
    ...table(exitCodes(COMMANDS.flatMap((c) => c.exitCodes)).map(([code, text]): [string, string] => [String(code), text])),
    "",
    "`sluice help COMMAND` says more about one command.",
  ].join("\n");
}

/** What `sluice help COMMAND` and `sluice COMMAND --help` print. */
export function commandHelp(command: CommandSpec): string {
  const lines = [`Usage: sluice ${command.name}${command.usage ? ` ${command.usage}` : ""}`, "", `${capitalize(command.summary)}.`];
  if (command.details.length > 0) lines.push("", ...command.details);
  lines.push(
    "",
    "Flags:",
    ...flagLines([...command.flags.map((f) => ({ flag: f, commands: [command.name] })), ...GLOBAL_FLAGS.map((f) => ({ flag: f, commands: [] }))], false),
  );
  if (command.name === "run") lines.push("", "Signals:", ...table(SIGNALS), "", "Environment:", ...environmentLines());
  lines.push("", "Exit codes:", ...table(command.exitCodes.map(([code, text]): [string, string] => [String(code), text])));
  return lines.join("\n");
}

/** Every flag once, with the commands that take it (none: every command). */
export function allFlags(): { flag: FlagSpec; commands: string[] }[] {
  const byName = new Map<string, { flag: FlagSpec; commands: string[] }>();
  for (const command of COMMANDS) {
    for (const flag of command.flags) {
      const seen = byName.get(flag.name);
      if (seen) seen.commands.push(command.name);
      else byName.set(flag.name, { flag, commands: [command.name] });
    }
  }
  return [...byName.values(), ...GLOBAL_FLAGS.map((flag) => ({ flag, commands: [] }))];
}

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function flagLines(flags: { flag: FlagSpec; commands: string[] }[], sayCommands: boolean): string[] {
  if (flags.length === 0) return ["  (none)"];
  return table(
    flags.map(({ flag, commands }): [string, string] => [
      `${flag.short ? `-${flag.short}, ` : "    "}--${flag.name}${flag.value ? ` ${flag.value}` : ""}`,
      sayCommands && commands.length > 0 ? `${commands.join(", ")}: ${flag.text}` : flag.text,
    ]),
  );
}

/** Each entry's names on a line, what they do indented below: the names are too long for a column. */
function environmentLines(): string[] {
  return ENVIRONMENT.flatMap(([names, effect]) => [`  ${names}`, ...wrap(effect, 6)]);
}

/** Two columns, the second aligned and wrapped under itself. */
function table(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.flatMap(([left, right]) => {
    const [first = "", ...rest] = wrap(right, width + 4);
    return [`  ${left.padEnd(width)}  ${first.trimStart()}`, ...rest];
  });
}

/** Lines of at most WIDTH columns (a longer word stays whole), each indented by `indent`. */
const WIDTH = 100;
function wrap(text: string, indent: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(" ".repeat(indent) + line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(" ".repeat(indent) + line);
  return lines;
}

/** One meaning per code: the commands' meanings of each code, joined. */
function exitCodes(all: [number, string][]): [number, string][] {
  const merged = new Map<number, string[]>();
  for (const [code, text] of all) {
    const list = merged.get(code) ?? [];
    if (!list.includes(text)) list.push(text);
    merged.set(code, list);
  }
  const summary: Record<number, string> = {
    [EXIT.ok]: "success: run stopped by SIGTERM/SIGINT, check found no problem, health answered 200",
    [EXIT.problem]: "a problem: run could not start, check found problems, health got no 200",
    [EXIT.usage]: usageExit[1],
  };
  return [...merged.keys()].sort().map((code) => [code, summary[code] ?? merged.get(code)!.join("; ")]);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
