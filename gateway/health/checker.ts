// The active checks of one server: probe it every `interval` (jittered, so that the checks of many
// servers never fall into step), give each probe at most `timeout`, and tell the pool each result with the
// flip `fall` failures or `rise` passes in a row make of it (the pool changes the server). Every flip is one
// line on stderr.
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import { RiseFall } from "./rise-fall.ts";
import { describeProbeError, type Probe, type ProbeOutcome } from "./probe.ts";

/** Each wait between checks is the interval ± this fraction, drawn anew every time. */
export const JITTER = 0.15;
/** The first check of each server comes at a random moment within this (or the interval, when shorter). */
export const FIRST_CHECK_WITHIN_MS = 1_000;

export interface CheckTiming {
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
}

export interface CheckerOptions extends CheckTiming {
  pool: Pool;
  server: UpstreamServer;
  probe: Probe;
  log: (line: string) => void;
  /** Told after a check flipped the server up or down (the primary tells its `--workers` processes). */
  onFlip?: (pool: Pool, server: UpstreamServer) => void;
  /** Source of jitter, 0 ≤ x < 1 (tests may pin it). */
  random?: () => number;
}

type Timer = ReturnType<typeof setTimeout>;

/** Let a pending timer not hold the process open (Node and Bun timers; Deno's are plain numbers). */
function unref(timer: Timer): Timer {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export class ServerChecker {
  private readonly counter: RiseFall;
  private readonly random: () => number;
  private timer: Timer | undefined;
  private inFlight: AbortController | undefined;
  private stopped = false;

  constructor(private readonly options: CheckerOptions) {
    this.counter = new RiseFall(options.rise, options.fall);
    this.random = options.random ?? Math.random;
  }

  /** Begin checking: the first probe comes soon, at a random moment so that servers are not probed all at once. */
  start(): void {
    this.schedule(this.random() * Math.min(this.options.interval, FIRST_CHECK_WITHIN_MS));
  }

  /** No more checks: the next one is cancelled, one in flight is aborted and its result dropped. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.inFlight?.abort(new Error("health checks stopped"));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = unref(setTimeout(() => void this.checkOnce(), delayMs));
  }

  /** The wait before the next check: the interval ± JITTER. */
  private nextInterval(): number {
    return this.options.interval * (1 + JITTER * (2 * this.random() - 1));
  }

  private async checkOnce(): Promise<void> {
    if (this.stopped) return;
    const { timeout } = this.options;
    const started = Date.now();
    const controller = new AbortController();
    this.inFlight = controller;
    let timedOut = false;
    const deadline = unref(
      setTimeout(() => {
        timedOut = true;
        controller.abort(new Error(`timeout after ${timeout}ms`));
      }, timeout),
    );
    let outcome: ProbeOutcome;
    try {
      outcome = await this.options.probe(controller.signal);
    } catch (error) {
      outcome = { ok: false, reason: describeProbeError(error) };
    } finally {
      clearTimeout(deadline);
      this.inFlight = undefined;
    }
    if (this.stopped) return;
    // An answer that came after the deadline is still a timeout; a runtime's own connect timeout says the same.
    if (timedOut || (!outcome.ok && outcome.reason === "timeout")) outcome = { ok: false, reason: `timeout after ${timeout}ms` };
    const now = Date.now();
    const durationMs = now - started;
    this.judge(outcome, now, durationMs);
    this.schedule(Math.max(0, this.nextInterval() - durationMs));
  }

  private judge(outcome: ProbeOutcome, now: number, durationMs: number): void {
    const { pool, server, log } = this.options;
    const verdict = this.counter.record(outcome.ok, server.healthy);
    // The pool applies the flip: a server back up starts slow start, and requests queued for a free server
    // (maxConns) may take it.
    pool.checked(server, { ...outcome, at: now, durationMs }, verdict?.flip);
    if (!verdict) return;
    this.options.onFlip?.(pool, server);
    const who = `sluice: pool ${pool.name} server ${server.id}`;
    if (verdict.flip === "down") {
      log(`${who} is DOWN (${plural(verdict.streak, "check")} failed: ${outcome.reason ?? "failed"})`);
      // HAProxy's "backend has no server available!": from now on the pool answers 503 at once.
      if (!pool.servers.some((s) => s.adminState !== "disabled" && s.alive(now))) log(`sluice: pool ${pool.name} has no server available`);
    } else {
      log(`${who} is UP (${plural(verdict.streak, "check")} passed)`);
    }
  }
}
