// What the gateway has learnt about one upstream server while running, apart from what the config says:
// health and the last check, passive failures, the operator's changes, counters, latency, reported load.
// One object per server, changed only by the Pool that owns it (pool.ts). A reload hands the very same
// object to the new pool's twin of the server, so nothing is copied and requests still in flight on the
// old snapshot count on it too. Settings come from the server (a reload may change them, not the history),
// so the rules below that need one take it as an argument.
import type { WaitQueue } from "./wait-queue.ts";
import { ServerFigures } from "../observability/server-figures.ts";

/**
 * What an operator set: `up` takes traffic; `drain` takes no new clients but keeps sticky ones (HAProxy's
 * drain); `disabled` takes nothing (config `down: true`, or the admin API). Health is separate (`healthy`):
 * an admin "enable" never overrides a failing health check.
 */
export type AdminState = "up" | "drain" | "disabled";

/** The last active health check of a server, for /status and logs. */
export interface CheckResult {
  ok: boolean;
  /** HTTP status of the check, when it got one. */
  status?: number;
  /** Why it failed: timeout, refused, unexpected status… */
  reason?: string;
  at: number;
  durationMs: number;
}

export class ServerState {
  /** What the operator set (starts as the config's `down` says). */
  adminState: AdminState;
  /** The weight balancing uses: the configured one, or what the admin API set. */
  weight: number;
  /** Active health: false after `fall` failed checks in a row, true again after `rise` good ones. */
  healthy = true;
  lastCheck: CheckResult | undefined = undefined;
  /** Requests (or connections, for TCP) in flight right now. */
  active = 0;
  requests = 0;
  failures = 0;
  /** Passive failures inside the current failTimeout window (nginx max_fails/fail_timeout). */
  windowFails = 0;
  windowStart = 0;
  /** Until when passive failures keep the server out of rotation (ms since epoch). */
  failedUntil = 0;
  /** Last time the server answered. */
  lastOkAt = 0;
  /** When the server last came back (health recovered, failTimeout ended, enabled): slow start ramps from here. */
  recoveredAt = 0;
  /** Peak-EWMA response latency in ms (0 until the first sample), and when it was last sampled. */
  latencyMs = 0;
  latencyAt = 0;
  /** Load the server reported itself (X-Server-Load, 0.0–1.0) and when. */
  reportedLoad = 0;
  reportedAt = 0;
  /**
   * The wait queue of the pool that owns this state now (after a reload, the new snapshot's): a request
   * from an older snapshot that ends frees a slot the newer pool's queued requests are waiting for.
   */
  ownerQueue: WaitQueue | undefined = undefined;
  /**
   * What /metrics shows of the server's exchanges (attempts, failures by reason, connect and response times):
   * counters the exchange adds to, kept here so that they carry over reloads with the rest.
   */
  readonly figures = new ServerFigures();

  constructor(adminState: AdminState, weight: number) {
    this.adminState = adminState;
    this.weight = weight;
  }

  /**
   * Count a failed request against `maxFails` within `failTimeout` (nginx max_fails/fail_timeout). Returns
   * true when this failure takes the server out of rotation until `failedUntil`.
   */
  countFailure(now: number, maxFails: number, failTimeout: number): boolean {
    this.failures++;
    this.lastOkAt = 0;
    if (maxFails === 0) return false;
    if (now - this.windowStart > failTimeout) {
      this.windowStart = now;
      this.windowFails = 0;
    }
    if (++this.windowFails < maxFails) return false;
    this.failedUntil = now + failTimeout;
    // It comes back when the window ends: slow start runs from then.
    this.recoveredAt = this.failedUntil;
    this.windowFails = 0;
    return true;
  }

  /**
   * Record how long the server took to answer. Peak EWMA (Finagle, Linkerd): a slower sample is taken at
   * once, a faster one is averaged in with a weight that decays with the time since the last sample
   * (`decayMs` is the time constant), so a server that turns slow is avoided immediately and one that
   * recovers is trusted again gradually. The clock counts whole milliseconds: an answer within the same
   * millisecond counts as 1 ms. Were it 0, the estimate of a server in steady use would decay toward 0 just
   * as an idle server's does, and a server measured slower once would never be the cheaper one again (never
   * probed); it would also look unmeasured.
   */
  observeLatency(ms: number, now: number, decayMs: number): void {
    ms = Math.max(ms, 1);
    if (this.latencyAt === 0 || ms > this.latencyMs) {
      this.latencyMs = ms;
    } else {
      const w = Math.exp(-(now - this.latencyAt) / decayMs);
      this.latencyMs = this.latencyMs * w + ms * (1 - w);
    }
    this.latencyAt = now;
  }

  /** Record a load report (X-Server-Load), clamped to 0.0–1.0; ignores what is not a number. */
  recordLoad(load: number, now: number): void {
    if (!Number.isFinite(load)) return;
    this.reportedLoad = Math.min(1, Math.max(0, load));
    this.reportedAt = now;
  }
}
