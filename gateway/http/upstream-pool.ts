// Keep-alive connections to upstream servers, one idle list per server address: an exchange borrows a
// connection, sends one request on it, and gives it back only when both messages ended cleanly. Like
// undici's pool and nginx's `keepalive`: a cap on idle connections per server, an idle timeout (shortened to
// the server's own `Keep-Alive: timeout=` hint), a cap on requests per connection, and a real connect timeout.
// An idle connection that the server closes, or that speaks out of turn, is dropped at once.
import type { SocketRuntime, TcpHandlers, TcpSocket } from "../runtime/sockets.ts";
import { Deadlines } from "./deadlines.ts";
import type { FigureSet } from "../observability/exposition.ts";
import type { UpstreamTls } from "./upstream-tls.ts";

/**
 * Where a server is, and how it is spoken to: its `hostPort` ("host:port", IPv6 in brackets) names its idle list,
 * or for an https:// server its TLS settings' `connectionKey` does, so that a connection is only ever lent for the
 * settings it was made with (never a plain one for TLS, nor one verified against another CA or name).
 */
export interface UpstreamAddress {
  readonly hostname: string;
  readonly port: number;
  readonly hostPort: string;
  readonly tls?: UpstreamTls;
}

/** The name of the address's idle list: its `hostPort`, or for TLS its settings' `connectionKey`. */
function idleListKey(address: UpstreamAddress): string {
  return address.tls === undefined ? address.hostPort : address.tls.connectionKey;
}

/** How often response timeouts are checked: they fire up to this much late. */
const RESPONSE_TIMEOUT_SWEEP_MS = 25;

export interface UpstreamPoolOptions {
  /** Idle connections kept per server address. */
  maxIdle: number;
  /** How long a connection may sit idle before it is closed (ms). */
  idleTimeout: number;
  /** Requests one connection carries before it is closed. */
  maxRequests: number;
  /** Largest response head accepted from a server, status line included (502 above); 64 KiB when not given. */
  maxResponseHead?: number;
}

export const DEFAULT_UPSTREAM_POOL: UpstreamPoolOptions = { maxIdle: 1024, idleTimeout: 15_000, maxRequests: 10_000 };

/** Why a borrowed connection ended: the owner of the exchange hears it through these. */
export interface ConnectionUser {
  data(chunk: Uint8Array): void;
  drain(): void;
  /** The server sent FIN. */
  end(): void;
  close(error?: Error): void;
}

/** How long before the server's own keep-alive timeout a connection is retired (the stale keep-alive race). */
const HINT_MARGIN_MS = 1_000;
const SWEEP_MS = 1_000;

/** One upstream TCP connection, lent to one exchange at a time. */
export class UpstreamConnection implements TcpHandlers {
  socket!: TcpSocket;
  user: ConnectionUser | undefined;
  /** Requests sent on this connection so far. */
  requests = 0;
  /** When it went back to the idle list (ms). */
  idleSince = 0;
  /** Closed, or closing: never lent again. */
  dead = false;
  /** The server's Keep-Alive timeout hint, when it gave one (ms). */
  keepAliveHint = 0;
  /** How long connecting took (ms). */
  connectMs = 0;

  constructor(readonly idle: IdleList) {}

  data(chunk: Uint8Array): void {
    if (this.user) this.user.data(chunk);
    // A server speaking while no request is outstanding is out of sync: never reuse the connection.
    else this.discard();
  }
  drain(): void {
    this.user?.drain();
  }
  end(): void {
    if (this.user) this.user.end();
    else this.discard();
  }
  close(error?: Error): void {
    this.died();
    this.idle.remove(this);
    const user = this.user;
    this.user = undefined;
    user?.close(error);
  }

  /** Close without reuse (dropped by its user, idle too long, or broken). */
  discard(): void {
    if (!this.dead) {
      this.died();
      this.idle.remove(this);
      this.user = undefined;
      this.socket.destroy();
    }
  }

  /** After a 101 the socket leaves the pool for good (it becomes a tunnel's): never lent again. */
  handOver(): void {
    this.died();
  }

  private died(): void {
    if (this.dead) return;
    this.dead = true;
    this.idle.closed++;
  }
}

/** The idle connections to one server address, newest last (reused first: the warmest socket). */
export class IdleList {
  readonly connections: UpstreamConnection[] = [];
  /** For /metrics: the server's `host:port`, and whether its connections speak TLS. */
  constructor(
    readonly address = "",
    readonly tls = false,
  ) {}

  /** For /metrics: connections made to the address, lent again from this list, and gone (closed, or handed to a tunnel). */
  opened = 0;
  reused = 0;
  closed = 0;

  remove(connection: UpstreamConnection): void {
    const i = this.connections.lastIndexOf(connection);
    if (i >= 0) this.connections.splice(i, 1);
  }
}

export class UpstreamPool {
  private readonly lists = new Map<string, IdleList>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /** Connections opened since start (for figures and tests). */
  opened = 0;
  /** The response timeouts of requests in flight on these connections. */
  readonly timeouts = new Deadlines(RESPONSE_TIMEOUT_SWEEP_MS);

  constructor(
    private readonly sockets: SocketRuntime,
    readonly options: UpstreamPoolOptions = DEFAULT_UPSTREAM_POOL,
  ) {}

  private listFor(address: UpstreamAddress): IdleList {
    const key = idleListKey(address);
    let list = this.lists.get(key);
    if (!list) this.lists.set(key, (list = new IdleList(address.hostPort, address.tls !== undefined)));
    return list;
  }

  /** An idle connection to the address, or undefined when there is none. */
  takeIdle(address: UpstreamAddress): UpstreamConnection | undefined {
    const list = this.lists.get(idleListKey(address));
    if (!list) return undefined;
    const now = Date.now();
    let connection: UpstreamConnection | undefined;
    while ((connection = list.connections.pop())) {
      if (!connection.dead && now - connection.idleSince < this.idleLimit(connection)) {
        list.reused++;
        return connection;
      }
      connection.discard();
    }
    return undefined;
  }

  /** A new connection to the address, made within `timeoutMs` (its TLS handshake included). */
  async connect(address: UpstreamAddress, timeoutMs: number, signal?: AbortSignal): Promise<UpstreamConnection> {
    const list = this.listFor(address);
    const connection = new UpstreamConnection(list);
    const start = performance.now();
    const { hostname, port, tls } = address;
    connection.socket = await this.sockets.connectTcp(
      tls === undefined ? { hostname, port, timeoutMs, signal } : { hostname, port, timeoutMs, signal, tls },
      connection,
    );
    connection.connectMs = performance.now() - start;
    this.opened++;
    list.opened++;
    return connection;
  }

  /** The exchange on `connection` ended with both messages complete: keep it for the next request, or close it. */
  release(connection: UpstreamConnection): void {
    connection.user = undefined;
    if (connection.dead) return;
    const list = connection.idle;
    if (connection.requests >= this.options.maxRequests || list.connections.length >= this.options.maxIdle) {
      connection.discard();
      return;
    }
    connection.idleSince = Date.now();
    list.connections.push(connection);
    this.sweeper ??= this.startSweeping();
  }

  private idleLimit(connection: UpstreamConnection): number {
    const hint = connection.keepAliveHint;
    return hint > 0 ? Math.min(this.options.idleTimeout, Math.max(0, hint - HINT_MARGIN_MS)) : this.options.idleTimeout;
  }

  /** Idle connections now, per address (for /status and tests). */
  idleCount(address: UpstreamAddress): number {
    return this.lists.get(idleListKey(address))?.connections.length ?? 0;
  }

  private startSweeping(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => this.sweep(), SWEEP_MS);
    (timer as { unref?: () => void }).unref?.();
    return timer;
  }

  /** Close connections idle past their limit; stop sweeping when nothing is idle. */
  private sweep(): void {
    const now = Date.now();
    let left = 0;
    for (const list of this.lists.values()) {
      // Oldest first: stop at the first one still young enough.
      while (list.connections.length > 0) {
        const oldest = list.connections[0]!;
        if (!oldest.dead && now - oldest.idleSince < this.idleLimit(oldest)) break;
        oldest.discard();
      }
      left += list.connections.length;
    }
    if (left === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /**
   * Per address: connections open (lent or idle) and idle now, made since start, and lent again from idle. TLS
   * connections are labelled `tls="true"`, those of all TLS settings to one address added up.
   */
  collect(into: FigureSet): void {
    const sums = new Map<string, { labels: string[]; open: number; idle: number; opened: number; reused: number }>();
    for (const list of this.lists.values()) {
      const key = list.tls ? `tls ${list.address}` : list.address;
      let sum = sums.get(key);
      if (!sum)
        sums.set(
          key,
          (sum = { labels: list.tls ? ["address", list.address, "tls", "true"] : ["address", list.address], open: 0, idle: 0, opened: 0, reused: 0 }),
        );
      sum.open += list.opened - list.closed;
      sum.idle += list.connections.length;
      sum.opened += list.opened;
      sum.reused += list.reused;
    }
    for (const { labels, open, idle, opened, reused } of sums.values()) {
      into.add("sluice_upstream_connections_open", labels, open);
      into.add("sluice_upstream_connections_idle", labels, idle);
      into.add("sluice_upstream_connections_opened_total", labels, opened);
      into.add("sluice_upstream_connections_reused_total", labels, reused);
    }
  }

  /** Close every idle connection (shutdown). */
  closeIdle(): void {
    for (const list of this.lists.values()) for (const c of [...list.connections]) c.discard();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
