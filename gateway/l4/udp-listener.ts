// UDP listeners (`udp` in the config): datagrams balanced per client session over a `mode: "tcp"` pool,
// the way nginx's `stream { server { listen 53 udp; proxy_pass dns; } }` and LVS do it. See udp-session.ts
// for what one session does.
//
// Health: UDP has no handshake, so the only passive failure is an error the runtime reports for a server's
// socket (ICMP port unreachable: Bun surfaces it, Deno does not). Silence is not a failure, since syslog
// servers never answer. A pool's `health` runs TCP connect checks against the same host:port: right for
// servers that also listen on TCP (DNS does), wrong for UDP-only ones (syslog), which they would mark down.
import type { UdpListenerConfig } from "../config/schema.ts";
import { formatAddress, parseAddress } from "../config/address.ts";
import type { Pool } from "../pool/pool.ts";
import type { Datagram, SocketRuntime, UdpSocket } from "../runtime/sockets.ts";
import { sessionKey } from "./udp-address.ts";
import { UdpSession, type EndReason, type SessionOwner } from "./udp-session.ts";
import { count, newCounters, type UdpCounters, type UdpListenerStats } from "./udp-stats.ts";

export type { UdpListenerStats } from "./udp-stats.ts";

/** Sessions one listener holds at most by default: new clients beyond are dropped (and counted). */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Bytes all of a listener's not-yet-ready sessions may hold together. */
const PENDING_BYTES = 16 * 1024 * 1024;

export interface UdpListenerDeps {
  runtime: Pick<SocketRuntime, "bindUdp">;
  /** The current pools, read for every new session (a reload swaps them). */
  pools: () => ReadonlyMap<string, Pool>;
  log(line: string): void;
  /** Sessions per listener; DEFAULT_MAX_SESSIONS when not set. */
  maxSessions?: number;
}

export interface UdpListeners {
  listeners: Array<{ kind: "udp"; address: string }>;
  /** Per listener, in config order. */
  stats(): UdpListenerStats[];
  /** Close the listeners and every session (sockets, timers, server slots). Idempotent. */
  stop(): Promise<void>;
}

class UdpListener implements SessionOwner {
  readonly counters: UdpCounters = newCounters();
  readonly idleTimeoutMs: number;
  readonly runtime: Pick<SocketRuntime, "bindUdp">;
  private readonly sessions = new Map<string, UdpSession>();
  private readonly setups = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly maxSessions: number;
  private socket: UdpSocket | undefined;
  private address = "";
  private pendingBytes = 0;
  private stopped = false;
  /** What the log last said about this listener failing, so that a flood of drops is one line, not thousands. */
  private warned: string | undefined;

  constructor(
    private readonly config: UdpListenerConfig,
    private readonly deps: UdpListenerDeps,
  ) {
    this.idleTimeoutMs = config.idleTimeout;
    this.runtime = deps.runtime;
    this.maxSessions = deps.maxSessions ?? DEFAULT_MAX_SESSIONS;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  async start(): Promise<string> {
    const { hostname, port } = parseAddress(this.config.listen)!;
    try {
      this.socket = await this.runtime.bindUdp({
        hostname,
        port,
        receive: (datagram) => this.receive(datagram),
        // An ICMP error from a client that went away: nothing to do, the adapter keeps the socket usable.
        error: () => {},
      });
    } catch (error) {
      throw new Error(`cannot listen on udp ${this.config.listen}: ${(error as Error).message}`);
    }
    this.address = formatAddress({ hostname: this.socket.hostname, port: this.socket.port });
    return this.address;
  }

  private receive({ data, address, port }: Datagram): void {
    if (this.stopped) return;
    count(this.counters.received, data.byteLength);
    const now = Date.now();
    const key = sessionKey(address, port);
    const session = this.sessions.get(key);
    if (session) {
      if (session.usable(now)) return session.fromClient(data, now);
      session.end("server-out");
    }
    if (this.sessions.size >= this.maxSessions) {
      this.counters.dropped.sessionLimit++;
      this.warn(`session limit reached (${this.maxSessions}): dropping datagrams from new clients`);
      return;
    }
    const fresh = new UdpSession(this, key, address, port, data, now);
    if (fresh.ended) return; // failed at once (no pool)
    this.sessions.set(key, fresh);
    this.setups.add(fresh.ready);
    void fresh.ready.finally(() => this.setups.delete(fresh.ready));
  }

  pool(): Pool | undefined {
    return this.deps.pools().get(this.config.pool);
  }

  reply(data: Uint8Array, address: string, port: number): boolean {
    return this.socket !== undefined && this.socket.send(data, address, port);
  }

  reservePending(bytes: number): boolean {
    if (this.pendingBytes + bytes > PENDING_BYTES) return false;
    this.pendingBytes += bytes;
    return true;
  }

  releasePending(bytes: number): void {
    this.pendingBytes -= bytes;
  }

  ended(session: UdpSession, _reason: EndReason): void {
    if (this.sessions.get(session.key) === session) this.sessions.delete(session.key);
  }

  setupResult(ok: boolean, why?: string): void {
    if (ok) this.warned = undefined;
    else this.warn(`dropping datagrams: ${why}`);
  }

  log(line: string): void {
    this.deps.log(line);
  }

  private warn(what: string): void {
    if (this.warned === what) return;
    this.warned = what;
    this.deps.log(`sluice: udp ${this.address} (pool ${this.config.pool}): ${what}`);
  }

  stats(): UdpListenerStats {
    const c = this.counters;
    return {
      listen: this.address,
      pool: this.config.pool,
      idleTimeoutMs: this.idleTimeoutMs,
      activeSessions: this.sessions.size,
      maxSessions: this.maxSessions,
      sessions: c.sessions,
      expired: c.expired,
      serverErrors: c.serverErrors,
      received: { ...c.received },
      forwarded: { ...c.forwarded },
      replied: { ...c.replied },
      dropped: { ...c.dropped },
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.socket?.close();
    this.abort.abort();
    for (const session of [...this.sessions.values()]) session.end("stop");
    // Sessions still choosing a server or opening their socket notice they ended and undo what they got.
    await Promise.all([...this.setups]);
  }
}

/**
 * Bind every `udp` listener of the config. All or nothing: when one cannot bind, those already bound are
 * closed and the error names the address.
 */
export async function startUdpListeners(configs: readonly UdpListenerConfig[], deps: UdpListenerDeps): Promise<UdpListeners> {
  const listeners: UdpListener[] = [];
  const addresses: string[] = [];
  const stopAll = () => Promise.all(listeners.map((l) => l.stop())).then(() => {});
  try {
    for (const config of configs) {
      const listener = new UdpListener(config, deps);
      addresses.push(await listener.start());
      listeners.push(listener);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    listeners: addresses.map((address) => ({ kind: "udp" as const, address })),
    stats: () => listeners.map((l) => l.stats()),
    stop: stopAll,
  };
}
