// The command line read against the tables of cli-help.ts: a command, its flags, nothing else. Anything else is a
// usage error (exit 2) that says what was wrong and, for a typo, what was meant: `--confg` → "did you mean
// --config?", a flag of another command → which command takes it.
import { closest, didYouMean } from "./config/errors.ts";
import { COMMANDS, GLOBAL_FLAGS, allFlags, findCommand, type CommandSpec, type FlagSpec } from "./cli-help.ts";

export interface CommandLine {
  command: CommandSpec;
  /** Whether the command was written (`sluice run`) or taken as the default (`sluice`). */
  named: boolean;
  /** Flag values by long name: a string, or true for a flag without a value. */
  values: Record<string, string | true>;
  /** Arguments after the command that are not flags (only `help` takes one). */
  args: string[];
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** Read `argv` (the arguments after the program's name). Throws a UsageError for anything it cannot take. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const everyFlag = allFlags();
  const positionals: string[] = [];
  const given: { flag: FlagSpec; written: string; value: string | true }[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const [written, inline] = splitInline(arg);
    const name = long ? written.slice(2) : written.slice(1);
    const flag = everyFlag.find(({ flag }) => (long ? flag.name === name : flag.short === name))?.flag;
    if (!flag) throw new UsageError(unknownFlag(written, positionals[0]));
    let value: string | true = true;
    if (flag.value !== undefined) {
      if (inline !== undefined) value = inline;
      else if (i + 1 < argv.length && !looksLikeFlag(argv[i + 1]!)) value = argv[++i]!;
      else throw new UsageError(`${written} needs a value: ${written} ${flag.value}`);
    } else if (inline !== undefined) {
      throw new UsageError(`${written} takes no value (got ${written}=${inline})`);
    }
    given.push({ flag, written, value });
  }

  const name = positionals[0] ?? "run";
  const command = findCommand(name);
  if (!command) {
    const names = COMMANDS.map((c) => c.name);
    throw new UsageError(`unknown command "${name}"${didYouMean(name, names)}`);
  }
  const args = positionals.slice(1);
  if (args.length > (command.name === "help" ? 1 : 0)) {
    const why = command.flags.some((f) => f.name === "config") ? ` (a config file goes after --config)` : "";
    throw new UsageError(`${command.name}: unexpected argument "${args[command.name === "help" ? 1 : 0]}"${why}`);
  }

  const values: Record<string, string | true> = {};
  for (const { flag, written, value } of given) {
    const takes = [...command.flags, ...GLOBAL_FLAGS].some((f) => f.name === flag.name);
    if (!takes) {
      const owners = everyFlag.find((f) => f.flag === flag)!.commands.join(", ");
      throw new UsageError(`${written} is not a flag of ${command.name} (it is one of ${owners})`);
    }
    values[flag.name] = value;
  }
  return { command, named: positionals.length > 0, values, args };
}

/** `--name=value` split at the first "="; no value part for `--name`. */
function splitInline(arg: string): [string, string | undefined] {
  const at = arg.indexOf("=");
  return at === -1 ? [arg, undefined] : [arg.slice(0, at), arg.slice(at + 1)];
}

/** A value may start with "-" ("-1" for a bad count), but not look like a flag of ours. */
function looksLikeFlag(arg: string): boolean {
  return /^--?[A-Za-z]/.test(arg);
}

function unknownFlag(written: string, commandName: string | undefined): string {
  const command = findCommand(commandName ?? "run");
  const longNames = (flags: FlagSpec[]) => flags.map((f) => `--${f.name}`);
  // "-config" for "--config"; a one-letter flag is too short to guess from.
  const asLong = `-${written}`;
  let hint = !written.startsWith("--") && longNames(allFlags().map((f) => f.flag)).includes(asLong) ? asLong : undefined;
  if (hint === undefined && written.startsWith("--")) {
    // Among the flags this command takes first, then among all.
    hint = closest(written, longNames([...(command?.flags ?? []), ...GLOBAL_FLAGS])) ?? closest(written, longNames(allFlags().map((f) => f.flag)));
  }
  return `unknown flag ${written}${hint ? ` — did you mean ${hint}?` : ""}`;
}
