// One upstream server and the state the pool keeps about it. Selectors read this state; only the pool,
// the proxy's observations and the health checks the pool owns change it, so every algorithm sees the
// same truth and none keeps history of its own.

/**
 * What an operator set: `up` takes traffic; `drain` takes no new clients but keeps sticky ones (HAProxy's
 * drain); `disabled` takes nothing (config `down: true`, or the admin API). Health is separate (`healthy`):
 * an admin "enable" never overrides a failing health check.
 */
export type AdminState = "up" | "drain" | "disabled";

/** What /status shows: the admin state, or `down` when health or passive failures keep the server out. */
export type ServerState = "up" | "down" | "drain" | "disabled";

export interface ServerOptions {
  id: string;
  weight: number;
  backup: boolean;
  down: boolean;
  maxConns: number;
  maxFails: number;
  failTimeout: number;
  slowStart: number;
  /** How fast the latency average forgets: the time constant of its exponential decay (ms). */
  latencyDecay?: number;
}

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

/** Default decay time of the latency average (Finagle's and Linkerd's peak EWMA use 10 s). */
export const DEFAULT_LATENCY_DECAY_MS = 10_000;
/** A load report older than this is ignored: a server that stopped reporting is judged by its weight alone. */
export const LOAD_REPORT_TTL_MS = 30_000;

export class UpstreamServer {
  readonly id: string;
  readonly backup: boolean;
  readonly maxConns: number;
  readonly maxFails: number;
  readonly failTimeout: number;
  readonly slowStart: number;
  private readonly latencyDecay: number;
  /** Configured weight; `weight` is what balancing uses (the admin API may change it at run time). */
  readonly configuredWeight: number;
  weight: number;
  adminState: AdminState;
  /** The admin state the config asked for (`down: true` is disabled): what a reload compares against. */
  readonly configuredAdminState: AdminState;
  /** Active health: false after `fall` failed checks in a row, true again after `rise` good ones. */
  healthy = true;
  lastCheck: CheckResult | undefined;
  /** Requests (or connections, for TCP) in flight right now. */
  active = 0;
  requests = 0;
  failures = 0;
  /** Passive failures inside the current failTimeout window (nginx max_fails/fail_timeout). */
  private windowFails = 0;
  private windowStart = 0;
  /** Until when passive failures keep the server out of rotation (ms since epoch). */
  failedUntil = 0;
  /** Last time the server answered: a pooled connection to it is probably still open. */
  lastOkAt = 0;
  /** When the server last came back (health recovered, failTimeout ended, enabled): slow start ramps from here. */
  recoveredAt = 0;
  /** Peak-EWMA response latency in ms (0 until the first sample). */
  latencyMs = 0;
  private latencyAt = 0;
  /** Load the server reported itself (X-Server-Load, 0.0–1.0) and when. */
  reportedLoad = 0;
  reportedAt = 0;
  /** Smooth weighted round-robin's running score (owned by that selector, kept here to stay O(1) per server). */
  rrCurrent = 0;
  /** Where requests go: `http://host:port` for HTTP pools, `host:port` for TCP pools. */
  readonly target: string;
  readonly hostname: string;
  readonly port: number;
  /** `host:port` as a Host header names the server (IPv6 in brackets). */
  readonly hostPort: string;

  constructor(target: string, hostname: string, port: number, options: ServerOptions) {
    this.target = target;
    this.hostname = hostname;
    this.port = port;
    this.hostPort = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    this.id = options.id;
    this.backup = options.backup;
    this.maxConns = options.maxConns;
    this.maxFails = options.maxFails;
    this.failTimeout = options.failTimeout;
    this.slowStart = options.slowStart;
    this.latencyDecay = options.latencyDecay ?? DEFAULT_LATENCY_DECAY_MS;
    this.configuredWeight = options.weight;
    this.weight = options.weight;
    this.adminState = this.configuredAdminState = options.down ? "disabled" : "up";
  }

  /** Up as far as health and passive failures go (whatever the admin state). */
  alive(now: number): boolean {
    return this.healthy && this.failedUntil <= now;
  }

  /** May new clients go here now? */
  available(now: number): boolean {
    return this.adminState === "up" && this.alive(now) && (this.maxConns === 0 || this.active < this.maxConns);
  }

  /** May a client already bound to this server (sticky) keep coming? Draining servers keep their clients. */
  availableForSticky(now: number): boolean {
    return this.adminState !== "disabled" && this.alive(now) && (this.maxConns === 0 || this.active < this.maxConns);
  }

  get state(): ServerState {
    if (this.adminState === "disabled") return "disabled";
    if (!this.alive(Date.now())) return "down";
    return this.adminState;
  }

  /** The weight balancing uses now: during slow start it ramps from 10% up to `weight` (nginx's slow_start). */
  effectiveWeight(now: number): number {
    if (this.slowStart === 0 || this.recoveredAt === 0) return this.weight;
    const elapsed = now - this.recoveredAt;
    if (elapsed >= this.slowStart) return this.weight;
    return Math.max(this.weight * 0.1, (this.weight * elapsed) / this.slowStart);
  }

  /** The server came back into rotation: slow start begins. */
  recovered(now: number): void {
    this.recoveredAt = now;
  }

  succeeded(now: number): void {
    this.lastOkAt = now;
  }

  /** A request to this server failed (connect error, timeout, bad answer): count it against maxFails. */
  failed(now: number): void {
    this.failures++;
    this.lastOkAt = 0;
    if (this.maxFails === 0) return;
    if (now - this.windowStart > this.failTimeout) {
      this.windowStart = now;
      this.windowFails = 0;
    }
    if (++this.windowFails >= this.maxFails) {
      this.failedUntil = now + this.failTimeout;
      // It comes back when the window ends: slow start runs from then.
      this.recoveredAt = this.failedUntil;
      this.windowFails = 0;
    }
  }

  /**
   * Record how long the server took to answer. Peak EWMA (Finagle, Linkerd): a slower sample is taken at
   * once, a faster one is averaged in with a weight that decays with the time since the last sample, so
   * a server that turns slow is avoided immediately and one that recovers is trusted again gradually.
   * The clock counts whole milliseconds: an answer within the same millisecond counts as 1 ms. Were it 0,
   * the estimate of a server in steady use would decay toward 0 just as an idle server's does, and a server
   * measured slower once would never be the cheaper one again (never probed); it would also look unmeasured.
   */
  observeLatency(ms: number, now: number): void {
    ms = Math.max(ms, 1);
    if (this.latencyAt === 0 || ms > this.latencyMs) {
      this.latencyMs = ms;
    } else {
      const w = Math.exp(-(now - this.latencyAt) / this.latencyDecay);
      this.latencyMs = this.latencyMs * w + ms * (1 - w);
    }
    this.latencyAt = now;
  }

  /** The latency estimate now: an old estimate decays toward 0 so that a server not tried lately gets probed again. */
  latencyEstimate(now: number): number {
    if (this.latencyAt === 0) return 0;
    return this.latencyMs * Math.exp(-(now - this.latencyAt) / this.latencyDecay);
  }

  /** Carry over what a previous config's twin of this server knew (see Pool.inherit). */
  inheritFrom(old: UpstreamServer): void {
    // An operator's change (drain, disable, enable, weight) outlives a reload unless the config itself changed
    // that setting: then the new config wins (removing `down: true` brings a server back).
    if (this.configuredAdminState === old.configuredAdminState) this.adminState = old.adminState;
    if (this.configuredWeight === old.configuredWeight) this.weight = old.weight;
    this.healthy = old.healthy;
    this.lastCheck = old.lastCheck;
    this.failedUntil = old.failedUntil;
    this.recoveredAt = old.recoveredAt;
    this.requests = old.requests;
    this.failures = old.failures;
    this.lastOkAt = old.lastOkAt;
    this.latencyMs = old.latencyMs;
    this.latencyAt = old.latencyAt;
    this.reportedLoad = old.reportedLoad;
    this.reportedAt = old.reportedAt;
  }

  /** Record a load report (X-Server-Load), clamped to 0.0–1.0; ignores what is not a number. */
  reportLoad(load: number, now: number): void {
    if (!Number.isFinite(load)) return;
    this.reportedLoad = Math.min(1, Math.max(0, load));
    this.reportedAt = now;
  }

  /** The reported load while it is fresh, else undefined. */
  currentLoad(now: number): number | undefined {
    return this.reportedAt !== 0 && now - this.reportedAt <= LOAD_REPORT_TTL_MS ? this.reportedLoad : undefined;
  }
}
