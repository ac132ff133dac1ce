// One proxied TCP connection, from accept to the last byte: read the prelude the listener asks for (PROXY
// header, TLS ClientHello), pick a server from the pool with the pool's algorithm, connect (the next server
// on failure, through tryServers), then pipe both ways until both sides are done.
//
// The pipe's rules:
// - backpressure: when one side's write() says "stop", the other side is paused until that side drains, so
//   the gateway holds at most one adapter queue's worth per direction, whatever the speeds;
// - half-close: a side's FIN becomes a shutdown() of the other side's write direction; the other direction
//   goes on until it ends too;
// - close: a side that closes after its FIN lets the other side finish what is queued (end()); a side that
//   closes before its FIN (reset, error) takes the other side down at once (destroy(), a reset where the
//   runtime can);
// - the server's `active` slot, taken by tryServers, is held until both sockets are closed and released once.
import type { TcpListenerConfig } from "../config/schema.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { SocketRuntime, TcpHandlers, TcpSocket } from "../runtime/sockets.ts";
import { tryServers, type FailureVerdict } from "../proxy/attempts.ts";
import { encodeProxyHeader, type ProxyAddress } from "./proxy-protocol.ts";
import { Prelude, type PreludeStep } from "./prelude.ts";
import type { ServerTraffic, TcpListenerCounters, TrafficTable } from "./tcp-stats.ts";

/** Client bytes kept while the server connection is being made; above this the client is paused. */
const PENDING_CAP = 64 * 1024;

/** One line per connection, at its end (for an access log). */
export interface TcpAccessEntry {
  time: string;
  listener: string;
  /** The client's address (from the PROXY header when the listener accepts one). */
  client: string;
  pool?: string;
  server?: string;
  durationMs: number;
  /** Bytes from the client / to the client. */
  bytesIn: number;
  bytesOut: number;
  /** How it ended: "closed" (both sides finished), "client reset", "server reset", "idle timeout", "no server", … */
  end: string;
}

/** What a connection needs from its listener. */
export interface ListenerContext {
  readonly address: string;
  readonly config: TcpListenerConfig;
  readonly counters: TcpListenerCounters;
  readonly traffic: TrafficTable;
  readonly runtime: SocketRuntime;
  readonly preludeTimeoutMs: number;
  /** The current pools, asked per connection (a reload swaps them). */
  pools(): ReadonlyMap<string, Pool>;
  /** The `sni` table, compiled: server name → pool name. */
  route: ((serverName: string | undefined) => string | undefined) | undefined;
  log(line: string): void;
  access: ((entry: TcpAccessEntry) => void) | undefined;
  /** The connection is over: both sockets closed, server slot released. */
  finished(connection: TcpConnection): void;
}

type Phase = "prelude" | "connecting" | "piping" | "done";

/** "::ffff:1.2.3.4" (an IPv4 client on a dual-stack listener) → "1.2.3.4". */
function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

export class TcpConnection implements TcpHandlers {
  private phase: Phase = "prelude";
  private readonly prelude: Prelude;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private clientEnded = false;
  private clientClosed = false;
  private server: TcpSocket | undefined;
  private serverEnded = false;
  private serverClosed = false;
  private pool: Pool | undefined;
  private upstream: UpstreamServer | undefined;
  private traffic: ServerTraffic | undefined;
  /** Cancels a connect or a wait in the pool's queue when the client goes away or the listener stops. */
  private readonly abort = new AbortController();
  private client: { address: string; port: number };
  private destination: ProxyAddress | undefined;
  private readonly startedAt = Date.now();
  private lastActivity = this.startedAt;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private preludeTimer: ReturnType<typeof setTimeout> | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  /** Why the connection ends, once known; the first reason wins. */
  private reason: string | undefined;
  private done = false;

  constructor(
    private readonly socket: TcpSocket,
    private readonly ctx: ListenerContext,
  ) {
    this.client = { address: plainAddress(socket.remoteAddress), port: socket.remotePort };
    const { config } = ctx;
    this.prelude = new Prelude({ proxy: config.acceptProxy, sni: config.sni !== undefined });
    if (config.idleTimeout > 0) this.idleTimer = setTimeout(() => this.checkIdle(), config.idleTimeout);
    if (this.prelude.needed) {
      this.preludeTimer = setTimeout(() => {
        this.ctx.counters.errors.preludeTimeouts++;
        this.refuse(`no ${config.acceptProxy ? "PROXY header" : "TLS ClientHello"} within ${ctx.preludeTimeoutMs}ms`, "prelude timeout");
      }, ctx.preludeTimeoutMs);
    } else {
      this.startConnect(undefined);
    }
  }

  // ── client events ──────────────────────────────────────────────────────────────────────────────

  data(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    this.bytesIn += n;
    this.ctx.counters.bytesIn += n;
    this.lastActivity = Date.now();
    switch (this.phase) {
      case "piping":
        this.traffic!.bytesIn += n;
        if (!this.server!.write(chunk)) this.socket.pause();
        return;
      case "prelude":
        return this.preludeStep(this.prelude.push(chunk));
      case "connecting":
        this.pending.push(chunk.slice());
        this.pendingBytes += n;
        if (this.pendingBytes >= PENDING_CAP) this.socket.pause();
        return;
    }
  }

  drain(): void {
    // The client took what was queued for it: the server may send again.
    this.server?.resume();
  }

  end(): void {
    this.clientEnded = true;
    if (this.phase === "prelude") return this.preludeStep(this.prelude.end());
    if (this.phase === "piping") this.server!.shutdown();
    // While connecting, the FIN is passed on once the server is there (see adopt).
  }

  close(error?: Error): void {
    this.clientClosed = true;
    this.abort.abort();
    if (this.server && !this.serverClosed) {
      if (this.clientEnded) this.server.end();
      else {
        this.cut("client reset", error);
        this.server.destroy();
      }
    } else if (!this.clientEnded && error) {
      this.cut("client reset", error);
    }
    this.maybeFinish();
  }

  // ── server events (through ServerLink) ────────────────────────────────────────────────────────

  serverData(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    this.bytesOut += n;
    this.ctx.counters.bytesOut += n;
    this.traffic!.bytesOut += n;
    this.lastActivity = Date.now();
    if (this.clientClosed) return;
    if (!this.socket.write(chunk)) this.server!.pause();
  }

  serverDrain(): void {
    if (!this.clientClosed && !this.clientEnded) this.socket.resume();
  }

  serverEnd(): void {
    this.serverEnded = true;
    if (!this.clientClosed) this.socket.shutdown();
  }

  serverClose(error?: Error): void {
    this.serverClosed = true;
    if (!this.clientClosed) {
      if (this.serverEnded) this.socket.end();
      else {
        this.cut("server reset", error);
        this.socket.destroy();
      }
    }
    this.maybeFinish();
  }

  // ── the steps ─────────────────────────────────────────────────────────────────────────────────

  private preludeStep(step: PreludeStep): void {
    if (step.kind === "more") return;
    clearTimeout(this.preludeTimer);
    this.preludeTimer = undefined;
    if (step.kind === "refuse") {
      const errors = this.ctx.counters.errors;
      if (step.what === "proxy") errors.proxyRefused++;
      else errors.sniRefused++;
      return this.refuse(step.reason, step.what === "proxy" ? "bad PROXY header" : "bad ClientHello");
    }
    if (step.source) this.client = { address: plainAddress(step.source.address), port: step.source.port };
    if (step.destination) this.destination = step.destination;
    if (step.rest.byteLength > 0) {
      this.pending.push(step.rest.slice());
      this.pendingBytes += step.rest.byteLength;
    }
    this.startConnect(step.serverName);
  }

  /** connect() runs on its own; a bug in it must cut this connection, not the process (unhandled rejection). */
  private startConnect(serverName: string | undefined): void {
    this.connect(serverName).catch((error) => {
      this.ctx.log(`sluice: tcp ${this.ctx.address}: internal error: ${(error as Error)?.stack ?? String(error)}`);
      this.phase = "done";
      this.kill("internal error");
      this.maybeFinish();
    });
  }

  private async connect(serverName: string | undefined): Promise<void> {
    this.phase = "connecting";
    const { config, counters } = this.ctx;
    const poolName = config.pool ?? this.ctx.route?.(serverName);
    if (poolName === undefined) {
      counters.errors.sniRefused++;
      return this.refuse(`no sni entry matches ${serverName === undefined ? "a ClientHello without server name" : `"${serverName}"`}`, "no sni route");
    }
    const pool = this.ctx.pools().get(poolName);
    if (pool?.mode !== "tcp") {
      counters.errors.noServer++;
      return this.refuse(`no tcp pool "${poolName}"`, "no pool");
    }
    this.pool = pool;
    const selection = pool.selectionFor({ clientIp: this.client.address });
    let link: ServerLink;
    let upstream: UpstreamServer;
    try {
      // Each server at most once: tryServers never returns to a server it already tried.
      const result = await tryServers(
        pool,
        selection,
        Math.max(1, pool.servers.length),
        this.abort.signal,
        (server) => this.attempt(server),
        (error) => this.judge(pool, error),
      );
      link = result.value;
      upstream = result.server;
    } catch (error) {
      if (this.clientClosed || this.done || this.reason) {
        this.phase = "done";
        return this.maybeFinish();
      }
      counters.errors.noServer++;
      return this.refuse(`pool "${pool.name}": ${(error as Error)?.message ?? String(error)}`, "no server");
    }
    if (this.clientClosed || this.reason) {
      // The client left (or the listener gave up on it) while the connection was being made.
      link.socket.destroy();
      pool.release(upstream);
      this.phase = "done";
      return this.maybeFinish();
    }
    this.adopt(link, upstream);
  }

  private async attempt(server: UpstreamServer): Promise<ServerLink> {
    const link = new ServerLink();
    link.socket = await this.ctx.runtime.connectTcp(
      {
        hostname: server.hostname,
        port: server.port,
        timeoutMs: this.ctx.config.connectTimeout,
        signal: this.abort.signal,
      },
      link,
    );
    return link;
  }

  private judge(pool: Pool, error: unknown): FailureVerdict {
    if (this.abort.signal.aborted) return { blameServer: false, retry: false };
    this.ctx.counters.errors.connectFailures++;
    this.ctx.log(`sluice: tcp ${this.ctx.address}: connect to pool "${pool.name}" failed: ${(error as Error)?.message ?? String(error)}`);
    return { blameServer: true, retry: true };
  }

  /** The server connection is made: send the PROXY header and what the client sent so far, then pipe. */
  private adopt(link: ServerLink, upstream: UpstreamServer): void {
    const server = link.socket;
    this.server = server;
    this.upstream = upstream;
    this.traffic = this.ctx.traffic.of(this.pool!.name, upstream);
    this.traffic.connections++;
    this.phase = "piping";
    this.pool!.answered(upstream, Date.now());
    const version = this.ctx.config.proxyProtocol;
    if (version) {
      const destination = this.destination ?? { address: plainAddress(this.socket.localAddress), port: this.socket.localPort };
      server.write(encodeProxyHeader(version, { source: this.client, destination }));
    }
    let flowing = true;
    for (const chunk of this.pending) {
      this.traffic.bytesIn += chunk.byteLength;
      flowing = server.write(chunk);
    }
    this.pending = [];
    this.pendingBytes = 0;
    link.attach(this);
    if (this.serverClosed) return;
    if (this.clientEnded) server.shutdown();
    else if (flowing) this.socket.resume();
    else this.socket.pause();
  }

  /** Close the client without a server: the connection was refused. */
  private refuse(why: string, reason: string): void {
    if (this.reason) return;
    this.reason = reason;
    this.phase = "done";
    clearTimeout(this.preludeTimer);
    this.ctx.log(`sluice: tcp ${this.ctx.address}: refused ${this.client.address}:${this.client.port}: ${why}`);
    this.socket.end();
    this.maybeFinish();
  }

  /** A side broke: count it once, unless the gateway itself is closing the connection. */
  private cut(reason: string, _error?: Error): void {
    if (this.reason) return;
    this.reason = reason;
    this.ctx.counters.errors.resets++;
  }

  private checkIdle(): void {
    this.idleTimer = undefined;
    if (this.done) return;
    const idleMs = this.ctx.config.idleTimeout;
    const quiet = Date.now() - this.lastActivity;
    if (quiet < idleMs) {
      this.idleTimer = setTimeout(() => this.checkIdle(), idleMs - quiet);
      return;
    }
    this.ctx.counters.errors.idleTimeouts++;
    this.kill("idle timeout");
  }

  /** Cut both sides now (idle timeout, the listener's grace period is over). */
  kill(reason: string): void {
    if (this.done) return;
    this.reason ??= reason;
    // While connecting, connect() sees the abort and finishes; otherwise nothing more is read.
    if (this.phase !== "connecting") this.phase = "done";
    this.abort.abort();
    this.socket.destroy();
    this.server?.destroy();
  }

  private maybeFinish(): void {
    if (this.done || !this.clientClosed) return;
    if (this.phase === "connecting") return; // tryServers is settling: connect() finishes.
    if (this.server && !this.serverClosed) return;
    this.done = true;
    this.phase = "done";
    clearTimeout(this.idleTimer);
    clearTimeout(this.preludeTimer);
    if (this.upstream) this.pool!.release(this.upstream);
    this.ctx.counters.active--;
    this.ctx.access?.({
      time: new Date(this.startedAt).toISOString(),
      listener: this.ctx.address,
      client: `${this.client.address}:${this.client.port}`,
      pool: this.pool?.name,
      server: this.upstream?.id,
      durationMs: Date.now() - this.startedAt,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      end: this.reason ?? "closed",
    });
    this.ctx.finished(this);
  }
}

/**
 * The handlers of one connect attempt's socket. Events that come before the connection adopts the socket
 * (between the connect resolving and tryServers returning) are kept and replayed.
 */
class ServerLink implements TcpHandlers {
  socket!: TcpSocket;
  private owner: TcpConnection | undefined;
  private early: Array<{ data: Uint8Array } | { end: true } | { close: true; error?: Error }> = [];

  attach(owner: TcpConnection): void {
    this.owner = owner;
    const early = this.early;
    this.early = [];
    for (const event of early) {
      if ("data" in event) owner.serverData(event.data);
      else if ("end" in event) owner.serverEnd();
      else owner.serverClose(event.error);
    }
  }

  data(chunk: Uint8Array): void {
    if (this.owner) this.owner.serverData(chunk);
    else this.early.push({ data: chunk.slice() });
  }

  drain(): void {
    this.owner?.serverDrain();
  }

  end(): void {
    if (this.owner) this.owner.serverEnd();
    else this.early.push({ end: true });
  }

  close(error?: Error): void {
    if (this.owner) this.owner.serverClose(error);
    else this.early.push({ close: true, error });
  }
}
