// The `tcp` listeners of a config: L4 passthrough. Each accepts connections (up to its `maxConns`), and
// hands each to a TcpConnection that picks a server from a `mode: "tcp"` pool (by name, or by the TLS server
// name with `sni`) and pipes bytes both ways. Pools are looked up per connection, so a reload that swaps
// them is seen by the next connection; live connections finish on the servers they have.
import type { TcpListenerConfig } from "../config/schema.ts";
import { formatAddress, parseAddress } from "../config/address.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { SocketRuntime, TcpHandlers, TcpServer, TcpSocket } from "../runtime/sockets.ts";
import { compileSniRoutes } from "./sni.ts";
import { TcpConnection, type ListenerContext, type TcpAccessEntry } from "./tcp-connection.ts";
import { newListenerCounters, TrafficTable, type ServerTraffic, type TcpListenerCounters } from "./tcp-stats.ts";

export type { TcpAccessEntry } from "./tcp-connection.ts";
export type { ServerTraffic, TcpErrorCounts, TcpListenerCounters } from "./tcp-stats.ts";

/** How long a connection may take to send its PROXY header or TLS ClientHello (HAProxy's inspect-delay). */
export const DEFAULT_PRELUDE_TIMEOUT_MS = 5_000;

export interface TcpListenerDeps {
  runtime: SocketRuntime;
  /** The current pools; asked once per connection. */
  pools(): ReadonlyMap<string, Pool>;
  /** Notable events, one line each: refused connections, failed connects. */
  log(line: string): void;
  /** One entry per finished connection, if wanted (an access log). */
  access?(entry: TcpAccessEntry): void;
  /** Time allowed for the PROXY header / ClientHello (default 5 s). */
  preludeTimeoutMs?: number;
}

export interface TcpListenerStats extends TcpListenerCounters {
  address: string;
  /** The pool, for a listener with `pool`. */
  pool?: string;
  /** The server name → pool table, for a listener with `sni`. */
  sni?: Record<string, string>;
  maxConns: number;
}

export interface TcpStats {
  listeners: TcpListenerStats[];
  /** Bytes per upstream server: `{ pool: { serverId: { bytesIn, bytesOut, connections } } }`. */
  servers: Record<string, Record<string, ServerTraffic>>;
}

export interface TcpListeners {
  /** What is listening, for /status (`address` with the bound port). */
  readonly listeners: Array<{ kind: "tcp"; address: string }>;
  stats(): TcpStats;
  /** Bytes through `server` of pool `pool`, or undefined before its first TCP connection. */
  serverTraffic(pool: string, server: UpstreamServer): ServerTraffic | undefined;
  /** Connections open now, all listeners together. */
  readonly active: number;
  /**
   * Stop accepting at once; let open connections finish for up to `graceMs`, then cut the rest. Resolves
   * when every connection is closed.
   */
  stop(graceMs: number): Promise<void>;
}

class Listener {
  readonly counters = newListenerCounters();
  readonly connections = new Set<TcpConnection>();
  readonly context: ListenerContext;
  private server: TcpServer | undefined;
  private readonly idle: Array<() => void> = [];
  address: string;

  constructor(
    readonly config: TcpListenerConfig,
    deps: TcpListenerDeps,
    traffic: TrafficTable,
  ) {
    this.address = config.listen;
    const route = config.sni ? compileSniRoutes(config.sni) : undefined;
    const self = this;
    this.context = {
      get address() {
        return self.address;
      },
      config,
      counters: this.counters,
      traffic,
      runtime: deps.runtime,
      preludeTimeoutMs: deps.preludeTimeoutMs ?? DEFAULT_PRELUDE_TIMEOUT_MS,
      pools: deps.pools,
      route,
      log: deps.log,
      access: deps.access,
      finished: (connection) => {
        this.connections.delete(connection);
        if (this.connections.size === 0) for (const resolve of this.idle.splice(0)) resolve();
      },
    };
  }

  async listen(runtime: SocketRuntime): Promise<void> {
    const address = parseAddress(this.config.listen);
    if (!address) throw new Error(`tcp listener: not an address (got "${this.config.listen}")`);
    try {
      this.server = await runtime.listenTcp({ ...address, accept: (socket) => this.accept(socket) });
    } catch (error) {
      throw new Error(`tcp listener ${this.config.listen}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    this.address = formatAddress(this.server);
  }

  private accept(socket: TcpSocket): TcpHandlers {
    const counters = this.counters;
    counters.accepted++;
    const max = this.config.maxConns;
    if (max > 0 && counters.active >= max) {
      counters.errors.maxConns++;
      socket.destroy();
      return REFUSED;
    }
    counters.active++;
    const connection = new TcpConnection(socket, this.context);
    this.connections.add(connection);
    return connection;
  }

  stopAccepting(): void {
    this.server?.stop();
  }

  /** Resolves when no connection is left. */
  drained(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  stats(): TcpListenerStats {
    return {
      address: this.address,
      ...(this.config.pool !== undefined ? { pool: this.config.pool } : {}),
      ...(this.config.sni !== undefined ? { sni: { ...this.config.sni } } : {}),
      maxConns: this.config.maxConns,
      ...this.counters,
      errors: { ...this.counters.errors },
    };
  }
}

/** Handlers of a connection refused at accept: it is already being closed. */
const REFUSED: TcpHandlers = { data() {}, drain() {}, end() {}, close() {} };

/**
 * Start every `tcp` listener of a config. Fails (with the listeners started so far stopped) when one cannot
 * listen, with the address in the message. Listeners started apart (a reload adding one) share `traffic`.
 */
export async function startTcpListeners(configs: readonly TcpListenerConfig[], deps: TcpListenerDeps, traffic = new TrafficTable()): Promise<TcpListeners> {
  const listeners: Listener[] = [];
  try {
    for (const config of configs) {
      const listener = new Listener(config, deps, traffic);
      await listener.listen(deps.runtime);
      listeners.push(listener);
    }
  } catch (error) {
    for (const listener of listeners) listener.stopAccepting();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    listeners: listeners.map((l) => ({ kind: "tcp" as const, address: l.address })),
    stats: () => ({ listeners: listeners.map((l) => l.stats()), servers: traffic.snapshot() }),
    serverTraffic: (pool, server) => traffic.peek(pool, server),
    get active() {
      return listeners.reduce((sum, l) => sum + l.connections.size, 0);
    },
    stop(graceMs) {
      stopping ??= (async () => {
        for (const listener of listeners) listener.stopAccepting();
        const drained = Promise.all(listeners.map((l) => l.drained()));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), Math.max(0, graceMs))));
        const outcome = await Promise.race([drained, deadline]);
        clearTimeout(timer);
        if (outcome === "timeout") {
          for (const listener of listeners) for (const connection of [...listener.connections]) connection.kill("shutdown");
          await drained;
        }
      })();
      return stopping;
    },
  };
}
