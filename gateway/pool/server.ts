// One upstream server: what the config says about it, and read access to what the gateway has learnt about
// it while running (server-state.ts). Selectors, /status, /metrics and the dashboard read that state here;
// only the pool that owns the server changes it (pool.ts), so every algorithm sees the same truth and none
// keeps history of its own.
import { formatAddress } from "../config/address.ts";
import { ServerState, type AdminState, type CheckResult } from "./server-state.ts";
import type { ServerFigures } from "../observability/server-figures.ts";
import type { UpstreamTls } from "../http/upstream-tls.ts";

export type { AdminState, CheckResult };

/** What /status shows: the admin state, or `down` when health or passive failures keep the server out. */
export type ShownState = "up" | "down" | "drain" | "disabled";

export interface ServerOptions {
  id: string;
  weight: number;
  backup: boolean;
  down: boolean;
  maxConns: number;
  maxFails: number;
  failTimeout: number;
  slowStart: number;
  /** The DNS name the server's address was resolved from (`resolve`); absent for a server configured as it is. */
  name?: string;
  /** The Host header for the server, when not `host:port` of its address (a server resolved from a DNS name). */
  hostHeader?: string;
  /** How fast the latency average forgets: the time constant of its exponential decay (ms). */
  latencyDecay?: number;
  /** An https:// server: how to speak TLS to it. */
  tls?: UpstreamTls;
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
  readonly latencyDecay: number;
  /** Configured weight; `weight` is what balancing uses (the admin API may change it at run time). */
  readonly configuredWeight: number;
  /** The admin state the config asked for (`down: true` is disabled): what a reload compares against. */
  readonly configuredAdminState: AdminState;
  /** Where requests go: `http://host:port` for HTTP pools, `host:port` for TCP pools. */
  readonly target: string;
  readonly hostname: string;
  readonly port: number;
  /** The DNS name this server's address came from (`resolve: true`), or undefined. */
  readonly name: string | undefined;
  /** `host:port` of where the server is (IPv6 in brackets): names its idle connections. */
  readonly hostPort: string;
  /**
   * What the Host header says when the client's is not kept (`preserveHost: false`): `hostPort`, or for a
   * server resolved from a DNS name, that name and port, since virtual hosts on the server answer to the name.
   */
  readonly hostHeader: string;
  /** How the gateway speaks TLS to an https:// server; undefined: plain HTTP (or a TCP pool's server). */
  readonly tls: UpstreamTls | undefined;
  /**
   * The run-time state. Changed only through the owning Pool's methods; the pool also swaps in the previous
   * snapshot's object on a reload (Pool.inherit), which is why this reference is not readonly.
   */
  live: ServerState;
  /**
   * Smooth weighted round-robin's running score: scratch of that selector (and of capacity and least-cost ties),
   * not server state. It stays here because a field read is the cheapest per-server lookup a pick can make; a
   * new pool (reload) starts a new selector and so a new score at 0.
   */
  rrCurrent = 0;

  constructor(target: string, hostname: string, port: number, options: ServerOptions) {
    this.target = target;
    this.hostname = hostname;
    this.port = port;
    this.name = options.name;
    this.hostPort = formatAddress({ hostname, port });
    this.hostHeader = options.hostHeader ?? this.hostPort;
    this.tls = options.tls;
    this.id = options.id;
    this.backup = options.backup;
    this.maxConns = options.maxConns;
    this.maxFails = options.maxFails;
    this.failTimeout = options.failTimeout;
    this.slowStart = options.slowStart;
    this.latencyDecay = options.latencyDecay ?? DEFAULT_LATENCY_DECAY_MS;
    this.configuredWeight = options.weight;
    this.configuredAdminState = options.down ? "disabled" : "up";
    this.live = new ServerState(this.configuredAdminState, options.weight);
  }

  // ── the state, read ─────────────────────────────────────────────────────────────────────────────────

  /** The server's counters for /metrics: the exchange adds to them (they steer nothing). */
  get figures(): ServerFigures {
    return this.live.figures;
  }

  get weight(): number {
    return this.live.weight;
  }
  get adminState(): AdminState {
    return this.live.adminState;
  }
  get healthy(): boolean {
    return this.live.healthy;
  }
  get lastCheck(): CheckResult | undefined {
    return this.live.lastCheck;
  }
  /** Requests (or connections, for TCP) in flight right now. */
  get active(): number {
    return this.live.active;
  }
  get requests(): number {
    return this.live.requests;
  }
  get failures(): number {
    return this.live.failures;
  }
  /** Until when passive failures keep the server out of rotation (ms since epoch). */
  get failedUntil(): number {
    return this.live.failedUntil;
  }
  get lastOkAt(): number {
    return this.live.lastOkAt;
  }
  /** When the server last came back: slow start ramps from here. */
  get recoveredAt(): number {
    return this.live.recoveredAt;
  }
  /** Peak-EWMA response latency in ms (0 until the first sample); see latencyEstimate for the value now. */
  get latencyMs(): number {
    return this.live.latencyMs;
  }

  /** Up as far as health and passive failures go (whatever the admin state). */
  alive(now: number): boolean {
    const live = this.live;
    return live.healthy && live.failedUntil <= now;
  }

  /** May new clients go here now? */
  available(now: number): boolean {
    const live = this.live;
    return live.adminState === "up" && live.healthy && live.failedUntil <= now && (this.maxConns === 0 || live.active < this.maxConns);
  }

  /** May a client already bound to this server (sticky) keep coming? Draining servers keep their clients. */
  availableForSticky(now: number): boolean {
    const live = this.live;
    return live.adminState !== "disabled" && live.healthy && live.failedUntil <= now && (this.maxConns === 0 || live.active < this.maxConns);
  }

  get state(): ShownState {
    if (this.live.adminState === "disabled") return "disabled";
    if (!this.alive(Date.now())) return "down";
    return this.live.adminState;
  }

  /** The weight balancing uses now: during slow start it ramps from 10% up to `weight` (nginx's slow_start). */
  effectiveWeight(now: number): number {
    const live = this.live;
    const weight = live.weight;
    if (this.slowStart === 0) return weight;
    const recoveredAt = live.recoveredAt;
    if (recoveredAt === 0) return weight;
    const elapsed = now - recoveredAt;
    if (elapsed >= this.slowStart) return weight;
    return Math.max(weight * 0.1, (weight * elapsed) / this.slowStart);
  }

  /** The latency estimate now: an old estimate decays toward 0 so that a server not tried lately gets probed again. */
  latencyEstimate(now: number): number {
    const live = this.live;
    if (live.latencyAt === 0) return 0;
    return live.latencyMs * Math.exp(-(now - live.latencyAt) / this.latencyDecay);
  }

  /** The reported load while it is fresh, else undefined. */
  currentLoad(now: number): number | undefined {
    const live = this.live;
    return live.reportedAt !== 0 && now - live.reportedAt <= LOAD_REPORT_TTL_MS ? live.reportedLoad : undefined;
  }

  // ── for selectors driven without a pool ──────────────────────────────────────────────────────────────
  // The shared selector cases (tests/balancing.case.ts) and the balancing benchmark run an algorithm over bare
  // servers and play the pool's part themselves. Gateway code never calls these: it goes through its Pool
  // (tests/pool-state.test.ts checks that).

  set active(n: number) {
    this.live.active = n;
  }

  observeLatency(ms: number, now: number): void {
    this.live.observeLatency(ms, now, this.latencyDecay);
  }

  recovered(now: number): void {
    this.live.recoveredAt = now;
  }
}
