// The first steps of every benchmark entry (run.ts, stream-run.ts, l4-run.ts), taken the same way: read
// its options or print its usage, stop at once when a tool it needs is missing, and follow the CPU plan.
// Each says what is wrong on stderr and leaves the exit code to the entry.
import { pinPlan, pinSelf, type PinPlan } from "./pinning.ts";
import { missingTools } from "./procs.ts";

type Parser<T> = (argv: string[], env: Record<string, string | undefined>) => T | "help";

/** The options from the command line and BENCH_* variables; else the exit code, after printing the usage
 *  (for --help, or under the error of a bad option). */
export function readOptions<T extends object>(parse: Parser<T>, usage: string): T | number {
  let options: T | "help";
  try {
    options = parse(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${usage}`);
    return 1;
  }
  if (options === "help") return void console.log(usage), 0;
  return options;
}

/** Whether every one of `tools` is there; if not, says which are missing and the line that installs them. */
export function haveTools(tools: string[], install: string): boolean {
  const missing = missingTools(tools);
  if (missing.length === 0) return true;
  console.error(`bench: missing ${missing.join(", ")}. Install them with:\n  ${install}`);
  return false;
}

/** The CPU plan for `pinned`, with this process moved onto the load CPU (its bookkeeping stays off the
 *  proxies' core); null after saying why the plan cannot be followed here. */
export function followPinPlan(pinned: boolean): PinPlan | null {
  const plan = pinPlan(pinned);
  if ("error" in plan) {
    console.error(`bench: ${plan.error}`);
    return null;
  }
  pinSelf(plan.load);
  return plan;
}
