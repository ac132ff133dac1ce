// What the TCP listeners count, for /status and /metrics: per listener (connections, bytes, every way a
// connection can be refused or cut) and per upstream server (bytes each way). The server's own
// `active`/`requests`/`failures` are in its pool-owned state; bytes are kept here, keyed by pool, server
// id and target, so that they outlive a reload as that state does (Pool.inherit).
import type { UpstreamServer } from "../pool/server.ts";

/** Why connections were refused or cut, per listener. */
export interface TcpErrorCounts {
  /** Refused at accept: the listener's `maxConns` was reached. */
  maxConns: number;
  /** Connect attempts to a server that failed (refused, timed out); each attempt counts. */
  connectFailures: number;
  /** Closed because no server could be reached (every attempt failed, none available, queue full or timed out). */
  noServer: number;
  /** Closed because of a missing or malformed PROXY header (`acceptProxy`). */
  proxyRefused: number;
  /** Closed because the TLS ClientHello was malformed or its server name matched no `sni` entry. */
  sniRefused: number;
  /** Closed because the PROXY header or ClientHello did not arrive in time. */
  preludeTimeouts: number;
  /** Closed because no byte moved either way for `idleTimeout`. */
  idleTimeouts: number;
  /** Connections one side reset or broke with an error (propagated to the other side). */
  resets: number;
}

export interface TcpListenerCounters {
  /** Connections open now. */
  active: number;
  /** Connections accepted since start (refused ones included). */
  accepted: number;
  /** Bytes received from clients. */
  bytesIn: number;
  /** Bytes sent to clients (what the servers answered). */
  bytesOut: number;
  errors: TcpErrorCounts;
}

export function newListenerCounters(): TcpListenerCounters {
  return {
    active: 0,
    accepted: 0,
    bytesIn: 0,
    bytesOut: 0,
    errors: { maxConns: 0, connectFailures: 0, noServer: 0, proxyRefused: 0, sniRefused: 0, preludeTimeouts: 0, idleTimeouts: 0, resets: 0 },
  };
}

/** Bytes through one upstream server. */
export interface ServerTraffic {
  /** Client bytes forwarded to the server. */
  bytesIn: number;
  /** Server bytes forwarded to clients. */
  bytesOut: number;
  /** Connections made to the server through a TCP listener. */
  connections: number;
}

/** Per-server byte counters shared by every listener of one gateway. */
export class TrafficTable {
  private readonly byKey = new Map<string, ServerTraffic & { pool: string; id: string }>();

  /** The counters of `server` in pool `pool`, created on first use. */
  of(pool: string, server: UpstreamServer): ServerTraffic {
    const key = `${pool}\0${server.id}\0${server.target}`;
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = { pool, id: server.id, bytesIn: 0, bytesOut: 0, connections: 0 };
      this.byKey.set(key, entry);
    }
    return entry;
  }

  /** The counters of `server`, or undefined when no TCP connection went to it yet. */
  peek(pool: string, server: UpstreamServer): ServerTraffic | undefined {
    const entry = this.byKey.get(`${pool}\0${server.id}\0${server.target}`);
    return entry && { bytesIn: entry.bytesIn, bytesOut: entry.bytesOut, connections: entry.connections };
  }

  /** Everything, as `{ pool: { serverId: traffic } }`. */
  snapshot(): Record<string, Record<string, ServerTraffic>> {
    const out: Record<string, Record<string, ServerTraffic>> = {};
    for (const e of this.byKey.values()) {
      (out[e.pool] ??= {})[e.id] = { bytesIn: e.bytesIn, bytesOut: e.bytesOut, connections: e.connections };
    }
    return out;
  }
}
