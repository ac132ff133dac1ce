// The counters of one UDP listener, as /status shows them.

export interface Traffic {
  datagrams: number;
  bytes: number;
}

export interface UdpDrops {
  /** No server could take a new session: none up, the pool is gone, or all at maxConns past the queue. */
  noServer: number;
  /** A new client arrived while the listener already held its maximum of sessions. */
  sessionLimit: number;
  /** Datagrams arriving faster than a new session could be set up (its small buffer was full). */
  pendingOverflow: number;
  /** The session's own socket could not be opened, or the server's hostname did not resolve. */
  upstreamError: number;
  /** The runtime refused a send (its buffer full, or a socket error). */
  sendFailed: number;
  /** A datagram reached a session's socket from somewhere other than its server. */
  foreignSource: number;
}

export interface UdpCounters {
  /** Sessions opened since start (a server chosen and a socket open). */
  sessions: number;
  /** Sessions ended after `idleTimeout` without traffic either way. */
  expired: number;
  /** Sessions ended because the runtime reported an error for the server (ICMP unreachable). */
  serverErrors: number;
  /** From clients, counted on arrival (dropped ones included). */
  received: Traffic;
  /** To servers. */
  forwarded: Traffic;
  /** From servers back to clients. */
  replied: Traffic;
  /** Datagrams dropped, by reason. */
  dropped: UdpDrops;
}

export interface UdpListenerStats extends UdpCounters {
  listen: string;
  pool: string;
  idleTimeoutMs: number;
  /** Sessions open now (including ones still choosing a server). */
  activeSessions: number;
  maxSessions: number;
}

export function newCounters(): UdpCounters {
  return {
    sessions: 0,
    expired: 0,
    serverErrors: 0,
    received: { datagrams: 0, bytes: 0 },
    forwarded: { datagrams: 0, bytes: 0 },
    replied: { datagrams: 0, bytes: 0 },
    dropped: { noServer: 0, sessionLimit: 0, pendingOverflow: 0, upstreamError: 0, sendFailed: 0, foreignSource: 0 },
  };
}

export function count(traffic: Traffic, bytes: number): void {
  traffic.datagrams++;
  traffic.bytes += bytes;
}
