// One client's UDP session (client address + port), as nginx's stream proxy and LVS keep them: the first
// datagram picks a server with the pool's algorithm and holds one of its active slots; the session gets its
// own socket on an ephemeral port, so that whatever the server sends back maps to this client; replies go
// out through the listener's socket, so the client hears from the address it wrote to. The session ends
// after `idleTimeout` without traffic either way, when the runtime reports an error for the server (ICMP
// port unreachable, where the runtime surfaces it: a passive failure), or when the listener stops.
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { Datagram, SocketRuntime, UdpSocket } from "../runtime/sockets.ts";
import { anyAddress, plainIp, resolveTarget, type UdpTarget } from "./udp-address.ts";
import { count, type UdpCounters, type UdpDrops } from "./udp-stats.ts";

/** Datagrams a session holds while it is still choosing a server and opening its socket. */
const PENDING_DATAGRAMS = 32;

/** What a session needs from the listener that owns it. */
export interface SessionOwner {
  readonly runtime: Pick<SocketRuntime, "bindUdp">;
  readonly counters: UdpCounters;
  readonly idleTimeoutMs: number;
  /** Aborted when the listener stops: a session waiting in the pool's queue gives up. */
  readonly signal: AbortSignal;
  /** The listener's pool as of now (reloads swap pools; undefined if it is gone). */
  pool(): Pool | undefined;
  /** Send to a client from the listener's own socket. */
  reply(data: Uint8Array, address: string, port: number): boolean;
  /** Bytes held by pending sessions, all together: a flood of new clients cannot hoard memory. */
  reservePending(bytes: number): boolean;
  releasePending(bytes: number): void;
  /** The session is over: forget it. */
  ended(session: UdpSession, reason: EndReason): void;
  /** Setting up a session succeeded or found no server (for the listener's log, which says so once). */
  setupResult(ok: boolean, why?: string): void;
  log(line: string): void;
}

export type EndReason = "idle" | "error" | "server-out" | "no-server" | "upstream-error" | "stop";

export class UdpSession {
  private pool: Pool | undefined;
  private server: UpstreamServer | undefined;
  private upstream: UdpSocket | undefined;
  private target: UdpTarget | undefined;
  /** Datagrams waiting for the session to be ready; undefined once it is. */
  private pending: Uint8Array[] | undefined = [];
  private pendingBytes = 0;
  private lastActive: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the oldest datagram still unanswered went out (0: none): the server's response time. */
  private awaitingSince = 0;
  private over = false;
  /** Settles when setup is done, whatever its outcome. */
  readonly ready: Promise<void>;

  constructor(
    private readonly owner: SessionOwner,
    readonly key: string,
    readonly address: string,
    readonly port: number,
    first: Uint8Array,
    now: number,
  ) {
    this.lastActive = now;
    this.hold(first);
    this.ready = this.setUp();
  }

  get ended(): boolean {
    return this.over;
  }

  /**
   * May this session keep its server? Not once the server is disabled or down (health checks, passive
   * failures): the next datagram then starts a new session on a server that is up. Draining servers keep
   * their sessions, as sticky clients keep a draining HTTP server.
   */
  usable(now: number): boolean {
    const s = this.server;
    return s === undefined || (s.adminState !== "disabled" && s.alive(now));
  }

  /** A datagram from the client. */
  fromClient(data: Uint8Array, now: number): void {
    this.lastActive = now;
    if (this.pending) this.hold(data);
    else this.forward(data, now);
  }

  private hold(data: Uint8Array): void {
    if (this.pending!.length >= PENDING_DATAGRAMS || !this.owner.reservePending(data.byteLength)) {
      this.owner.counters.dropped.pendingOverflow++;
      return;
    }
    this.pending!.push(data);
    this.pendingBytes += data.byteLength;
  }

  private forward(data: Uint8Array, now: number): void {
    const target = this.target!;
    if (this.upstream!.send(data, target.ip, target.port)) {
      count(this.owner.counters.forwarded, data.byteLength);
      if (this.awaitingSince === 0) this.awaitingSince = now;
    } else {
      this.owner.counters.dropped.sendFailed++;
    }
  }

  private async setUp(): Promise<void> {
    const owner = this.owner;
    const pool = owner.pool();
    if (!pool) return this.fail("noServer", "no-server", "its pool is gone");
    let server: UpstreamServer | undefined;
    try {
      server = await pool.acquire(pool.selectionFor({ clientIp: plainIp(this.address) }), undefined, owner.signal);
    } catch (error) {
      // QueueFull / QueueTimeout: every server stayed at maxConns.
      return this.fail("noServer", "no-server", (error as Error).message);
    }
    if (!server) return this.fail("noServer", "no-server", "no server is available");
    this.pool = pool;
    this.server = server;
    if (this.over) return this.cleanUp(); // stopped while choosing
    try {
      this.target = await resolveTarget(server.hostname, server.port);
    } catch (error) {
      pool.failed(server, Date.now());
      return this.fail("upstreamError", "upstream-error", `server ${server.id}: cannot resolve ${server.hostname} (${(error as Error).message})`);
    }
    if (this.over) return;
    let socket: UdpSocket;
    try {
      socket = await owner.runtime.bindUdp({
        hostname: anyAddress(this.target.family),
        port: 0,
        receive: (datagram) => this.fromServer(datagram),
        error: (error) => this.serverError(error),
      });
    } catch (error) {
      return this.fail("upstreamError", "upstream-error", `cannot open a socket for server ${server.id} (${(error as Error).message})`);
    }
    if (this.over) return socket.close();
    this.upstream = socket;
    owner.counters.sessions++;
    owner.setupResult(true);
    const held = this.pending!;
    this.pending = undefined;
    owner.releasePending(this.pendingBytes);
    this.pendingBytes = 0;
    const now = Date.now();
    for (const data of held) this.forward(data, now);
    this.arm(owner.idleTimeoutMs);
  }

  /** Setup failed: every datagram held is dropped for that reason. */
  private fail(reason: keyof UdpDrops, end: EndReason, why: string): void {
    if (this.over) return; // the listener stopped meanwhile: nothing to report
    this.owner.counters.dropped[reason] += this.pending?.length ?? 0;
    this.owner.setupResult(false, why);
    this.end(end);
  }

  private fromServer(datagram: Datagram): void {
    if (this.over) return;
    const target = this.target!;
    // The session's port is known to the server only, but anyone could write to it: pass on only the server's.
    if (datagram.port !== target.port || plainIp(datagram.address) !== target.ip) {
      this.owner.counters.dropped.foreignSource++;
      return;
    }
    const now = Date.now();
    this.lastActive = now;
    // The first reply after a datagram went out measures the server's latency; later ones only say it is there.
    this.pool!.answered(this.server!, now, this.awaitingSince !== 0 ? now - this.awaitingSince : undefined);
    this.awaitingSince = 0;
    if (this.owner.reply(datagram.data, this.address, this.port)) count(this.owner.counters.replied, datagram.data.byteLength);
    else this.owner.counters.dropped.sendFailed++;
  }

  /** The runtime reported an error for the server (ICMP unreachable): a passive failure, and the session ends. */
  private serverError(error: Error): void {
    if (this.over || !this.server) return;
    this.pool!.failed(this.server, Date.now());
    this.owner.counters.serverErrors++;
    this.owner.log(`sluice: udp pool ${this.pool!.name} server ${this.server.id} failed: ${error.message}`);
    this.end("error");
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => {
      const idle = Date.now() - this.lastActive;
      if (idle >= this.owner.idleTimeoutMs) this.end("idle");
      else this.arm(this.owner.idleTimeoutMs - idle);
    }, delay);
  }

  /** End the session: close its socket, give back the server's slot. Idempotent. */
  end(reason: EndReason): void {
    if (this.over) return;
    this.over = true;
    if (reason === "idle") this.owner.counters.expired++;
    this.cleanUp();
    this.owner.ended(this, reason);
  }

  private cleanUp(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.upstream?.close();
    this.upstream = undefined;
    if (this.pending) {
      this.owner.releasePending(this.pendingBytes);
      this.pending = undefined;
      this.pendingBytes = 0;
    }
    if (this.server && this.pool) {
      this.pool.release(this.server);
      this.pool = undefined;
    }
  }
}
