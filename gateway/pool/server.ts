// One upstream server and the state the pool keeps about it. Selectors read this state; only the pool
// (and the health checks it owns) change it, so every algorithm sees the same truth.

export type ServerState = "up" | "down" | "drain" | "disabled";

export interface ServerOptions {
  id: string;
  weight: number;
  backup: boolean;
  down: boolean;
  maxConns: number;
  maxFails: number;
  failTimeout: number;
}

export class UpstreamServer {
  readonly id: string;
  readonly backup: boolean;
  readonly maxConns: number;
  readonly maxFails: number;
  readonly failTimeout: number;
  /** Configured weight; `weight` is what balancing uses (admin may change it at run time). */
  readonly configuredWeight: number;
  weight: number;
  state: ServerState;
  /** Requests in flight right now. */
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
  /** Smooth weighted round-robin's running score (owned by that selector, kept here to stay O(1) per server). */
  rrCurrent = 0;
  /** Where requests go: `http://host:port` for HTTP pools, `host:port` for TCP pools. */
  readonly target: string;
  readonly hostname: string;
  readonly port: number;

  constructor(target: string, hostname: string, port: number, options: ServerOptions) {
    this.target = target;
    this.hostname = hostname;
    this.port = port;
    this.id = options.id;
    this.backup = options.backup;
    this.maxConns = options.maxConns;
    this.maxFails = options.maxFails;
    this.failTimeout = options.failTimeout;
    this.configuredWeight = options.weight;
    this.weight = options.weight;
    this.state = options.down ? "disabled" : "up";
  }

  /** May new requests go here now? */
  available(now: number): boolean {
    return this.state === "up" && this.failedUntil <= now && (this.maxConns === 0 || this.active < this.maxConns);
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
      this.windowFails = 0;
    }
  }
}
