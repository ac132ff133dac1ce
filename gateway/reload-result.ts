// What became of each reload, kept by the gateway that ran it: when it ran, what asked for it, whether the new
// config serves now, and if not, why — one `path: what is wrong` line per problem, as `sluice check` prints them.
// /status shows the last attempt and the counts, /metrics the same figures under the names Prometheus gives its
// own (`prometheus_config_last_reload_successful`…), so that the alerts people already write for Prometheus
// work for Sluice with the prefix changed.
import type { FamilyInfo } from "./observability/exposition.ts";
import type { FigureSet } from "./observability/exposition.ts";

/**
 * What asked for a reload: SIGHUP, the admin's `POST /reload`, `--watch-config` seeing the file change, or a
 * program embedding the gateway calling `reload()`.
 */
export type ReloadTrigger = "signal" | "admin" | "watch" | "api";

/** Listener addresses a successful reload opened and closed (those it kept are in neither). */
export interface ListenerMoves {
  opened: string[];
  closed: string[];
}

/** One reload, as /status and `POST /reload` show it. */
export interface ReloadResult {
  /** When it ended (ISO 8601). */
  at: string;
  trigger: ReloadTrigger;
  /** The new config serves now; false: it was refused and the running one stays. */
  success: boolean;
  /** Why it was refused, one `path: what is wrong` line each; empty on success. */
  problems: string[];
  /** Changes the new config asks for that this reload could not make (they need a restart); the rest was applied. */
  notes: string[];
  /** On success, the listeners opened and closed. */
  listeners: ListenerMoves;
  durationMs: number;
}

/** The /status `reload` object. */
export interface ReloadStatus {
  /** When the running config was loaded: at start, or by the last successful reload. */
  lastSuccessAt: string;
  /** The last reload, whatever became of it; null before the first. */
  lastAttempt: ReloadResult | null;
  /** Reloads since start by outcome (the load at start is not counted). */
  total: { success: number; failure: number };
}

/**
 * `Gateway.reload()` rejects with the error that refused the reload (a ConfigError, a PluginLoadError…), as it
 * always did; the result recorded for it travels with it, for the admin's answer.
 */
const refusals = new WeakMap<object, ReloadResult>();

/** The error to reject with: `error` itself, now carrying `result`. */
export function refusedWith(error: unknown, result: ReloadResult): unknown {
  if (typeof error === "object" && error !== null) {
    refusals.set(error, result);
    return error;
  }
  const wrapped = new Error(result.problems.join("\n"));
  refusals.set(wrapped, result);
  return wrapped;
}

/** The result a refused reload recorded, from the error `reload()` rejected with; undefined for any other error. */
export function refusalResult(error: unknown): ReloadResult | undefined {
  return typeof error === "object" && error !== null ? refusals.get(error) : undefined;
}

export const RELOAD_FAMILIES: readonly FamilyInfo[] = [
  {
    name: "sluice_config_last_reload_successful",
    type: "gauge",
    help: "1 when the last reload attempt succeeded (or none was made since start), 0 when it was refused.",
  },
  {
    name: "sluice_config_last_reload_success_timestamp_seconds",
    type: "gauge",
    help: "When the running config was loaded (at start or by the last successful reload), in seconds since the Unix epoch.",
  },
  { name: "sluice_config_reloads_total", type: "counter", help: "Reloads since start, by result: success or failure." },
];

/** The reload record of one gateway process. */
export class ReloadHistory {
  private lastSuccess: number;
  private last: ReloadResult | null = null;
  private successes = 0;
  private failures = 0;

  /** `loadedAt`: when the config of the start was loaded (it counts as the first success, as in Prometheus). */
  constructor(loadedAt: number) {
    this.lastSuccess = loadedAt;
  }

  /** Record a reload that ran from `startedAt` until now; returns what is recorded. */
  record(outcome: { trigger: ReloadTrigger; startedAt: number; problems?: string[]; notes?: string[]; listeners?: ListenerMoves }): ReloadResult {
    const now = Date.now();
    const problems = outcome.problems ?? [];
    const result: ReloadResult = {
      at: new Date(now).toISOString(),
      trigger: outcome.trigger,
      success: problems.length === 0,
      problems,
      notes: outcome.notes ?? [],
      listeners: outcome.listeners ?? { opened: [], closed: [] },
      durationMs: now - outcome.startedAt,
    };
    if (result.success) {
      this.successes++;
      this.lastSuccess = now;
    } else this.failures++;
    this.last = result;
    return result;
  }

  status(): ReloadStatus {
    return {
      lastSuccessAt: new Date(this.lastSuccess).toISOString(),
      lastAttempt: this.last,
      total: { success: this.successes, failure: this.failures },
    };
  }

  /** The RELOAD_FAMILIES samples. */
  collect(set: FigureSet): void {
    set.add("sluice_config_last_reload_successful", [], this.last === null || this.last.success ? 1 : 0);
    set.add("sluice_config_last_reload_success_timestamp_seconds", [], this.lastSuccess / 1000);
    set.add("sluice_config_reloads_total", ["result", "success"], this.successes);
    set.add("sluice_config_reloads_total", ["result", "failure"], this.failures);
  }
}

/**
 * The lines a refused reload reports: a config error's problems as they are (each is `path: what`), any other
 * error's message split into its lines.
 */
export function problemsOf(error: unknown): string[] {
  const listed = (error as { problems?: unknown })?.problems;
  if (Array.isArray(listed) && listed.length > 0) return listed.map(String);
  const message = (error as Error)?.message ?? String(error);
  const lines = message
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== "");
  return lines.length > 0 ? lines : ["reload failed"];
}
