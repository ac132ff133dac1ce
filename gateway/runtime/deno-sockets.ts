// The deno adapter's raw TCP sockets (see sockets.ts for the contract); UDP lives in deno-udp.ts.
//
// What Deno does that this file works around (measured on the runtime itself):
// - `conn.readable` closes the whole resource when the peer's FIN arrives (deno#22258), which breaks
//   half-close, and piping streams ran at ~0.45× a plain loop: so reading is a `read()` loop into one
//   reusable buffer per connection (a chunk handed to `data` is only valid during the call, as the
//   contract says), and writing is a queue drained by `conn.write()`. The buffer starts small and grows
//   once a read fills it: a pending read holds its buffer, so 64 KiB each would make 10,000 idle
//   connections cost 640 MB.
// - `write` copies what it queues (Deno's write is asynchronous) and answers false once more than
//   HIGH_WATER bytes wait; `drain` follows when the queue is empty again.
// - Half-close is `closeWrite()` once the queue is flushed; the connection is closed when both
//   directions are done.
// - Upstream TLS: see connectTls below for what Deno's TLS client can and cannot do.
// - Deno has no SO_LINGER: `destroy()` closes at once (unsent bytes dropped) but cannot force a reset.
// - Deno's read() resolves null on a peer's reset as on a FIN: a zero-length write tells them apart.
// - accept() rejects when the process is out of descriptors: the loop backs off (10 ms, doubling to 1 s)
//   instead of retrying at once, and the accept guard (accept-guard.ts) pauses it before that happens.
import { copyOf } from "./copy.ts";
import type { SocketRuntime, TcpConnectOptions, TcpHandlers, TcpListenOptions, TcpServer, TcpSocket, TlsClientSettings } from "./sockets.ts";
import { bindUdp } from "./deno-udp.ts";
import { AcceptGuard, outOfDescriptors } from "./accept-guard.ts";

/** Every socket of this adapter counts against the process's descriptors. */
const guard = new AcceptGuard();

// deno-lint-ignore no-explicit-any
declare const Deno: any;

interface DenoConn {
  readonly remoteAddr: { hostname: string; port: number };
  readonly localAddr: { hostname: string; port: number };
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
}

/** Bytes read per `read()` call: at first, and once a read has filled that. */
const FIRST_READ_SIZE = 4 * 1024;
const READ_SIZE = 64 * 1024;
/** Queued bytes above which `write` asks the producer to wait for `drain`. */
const HIGH_WATER = 64 * 1024;
const EMPTY = new Uint8Array(0);

class DenoTcpSocket implements TcpSocket {
  handlers: TcpHandlers | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private writing = false;
  get pendingBytes(): number {
    return this.queued;
  }
  /** A `write` answered false: tell the producer when the queue is empty. */
  private drainWanted = false;
  private shutdownWanted = false;
  private endWanted = false;
  private writeShut = false;
  private readEnded = false;
  private paused = false;
  private wake: (() => void) | undefined;
  private closed = false;
  private destroyed = false;

  constructor(private readonly conn: DenoConn) {
    guard.opened();
    this.remoteAddress = conn.remoteAddr.hostname;
    this.remotePort = conn.remoteAddr.port;
    this.localAddress = conn.localAddr.hostname;
    this.localPort = conn.localAddr.port;
    try {
      conn.setNoDelay?.(true);
    } catch {
      // A connection already gone: the read loop will say so.
    }
  }

  /** Start reading; `handlers` receive every event from now on. */
  start(handlers: TcpHandlers): void {
    this.handlers = handlers;
    // A handler that throws must not become an unhandled rejection (Deno exits on those): it closes the connection.
    this.readLoop().catch((error) => this.finish(error as Error));
  }

  private async readLoop(): Promise<void> {
    let buffer = new Uint8Array(FIRST_READ_SIZE);
    while (!this.closed) {
      if (this.paused) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      let n: number | null;
      try {
        n = await this.conn.read(buffer);
      } catch (error) {
        this.finish(error as Error);
        return;
      }
      if (this.closed) return;
      if (n === null) {
        if (await this.peerReset()) return;
        this.readEnded = true;
        this.handlers!.end();
        this.closeIfDone();
        return;
      }
      this.handlers!.data(buffer.subarray(0, n));
      if (n === buffer.length && n < READ_SIZE) buffer = new Uint8Array(READ_SIZE);
    }
  }

  /**
   * Deno's read() reports a peer's reset as a plain end of stream (it resolves null; measured on 2.9). A
   * zero-length write tells them apart: it succeeds after a FIN and fails after a reset. Probed only while
   * nothing else is being written (a write in flight fails by itself after a reset). True when it was a reset
   * (the connection is then closed with that error).
   */
  private async peerReset(): Promise<boolean> {
    if (this.writing || this.writeShut || this.shutdownWanted || this.endWanted) return false;
    this.writing = true;
    try {
      await this.conn.write(EMPTY);
    } catch (error) {
      this.writing = false;
      const reset = new Error(`connection reset by peer (${(error as Error)?.message ?? error})`) as Error & { code?: string };
      reset.code = "ECONNRESET";
      this.finish(reset);
      return true;
    }
    this.writing = false;
    if (this.closed) return true;
    // Bytes queued while probing, or a close asked for meanwhile: carry on as flush() would.
    if (this.queue.length > 0) void this.flush();
    else if (this.endWanted) this.finish();
    else if (this.shutdownWanted) this.closeWrite();
    return false;
  }

  write(chunk: Uint8Array, length = chunk.byteLength): boolean {
    if (this.closed || this.writeShut || this.shutdownWanted || this.endWanted) return true;
    if (length > 0) {
      this.queue.push(copyOf(chunk, 0, length));
      this.queued += length;
      if (!this.writing) void this.flush();
    }
    if (this.queued > HIGH_WATER) {
      this.drainWanted = true;
      return false;
    }
    return true;
  }

  private async flush(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      let n: number;
      try {
        n = await this.conn.write(head);
      } catch (error) {
        this.writing = false;
        this.finish(error as Error);
        return;
      }
      if (this.closed) return;
      this.queued -= n;
      if (n < head.byteLength) this.queue[0] = head.subarray(n);
      else this.queue.shift();
    }
    this.writing = false;
    if (this.endWanted) return this.finish();
    if (this.shutdownWanted) return this.closeWrite();
    if (this.drainWanted) {
      this.drainWanted = false;
      try {
        this.handlers?.drain();
      } catch (error) {
        this.finish(error as Error);
      }
    }
  }

  private closeWrite(): void {
    this.shutdownWanted = false;
    this.writeShut = true;
    this.conn.closeWrite().then(
      () => this.closeIfDone(),
      (error: Error) => this.finish(error),
    );
  }

  /** Both directions are over: the connection is done. */
  private closeIfDone(): void {
    if (this.readEnded && this.writeShut && !this.writing) this.finish();
  }

  shutdown(): void {
    if (this.closed || this.writeShut || this.shutdownWanted || this.endWanted) return;
    this.shutdownWanted = true;
    if (!this.writing && this.queue.length === 0) this.closeWrite();
  }

  end(): void {
    if (this.closed || this.endWanted) return;
    this.endWanted = true;
    if (!this.writing && this.queue.length === 0) this.finish();
  }

  destroy(): void {
    if (this.closed) return;
    this.destroyed = true;
    this.finish();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  /** Close the resource and report `close` once. A read or write in flight then fails and is ignored. */
  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    guard.closed();
    this.queue.length = 0;
    this.queued = 0;
    try {
      this.conn.close();
    } catch {
      // Already closed by Deno.
    }
    this.wake?.();
    // A close we asked for is not an error, whatever the pending read reports after it.
    this.handlers?.close(this.destroyed ? undefined : error);
  }
}

/** After a failed accept, the first wait before the next, doubled after each failure in a row, up to the second. */
const ACCEPT_RETRY_MS = 10;
const MAX_ACCEPT_RETRY_MS = 1_000;

async function listenTcp(options: TcpListenOptions): Promise<TcpServer> {
  // reusePort needs --unstable-net on Deno; without workers it is never asked for.
  const address = { hostname: options.hostname, port: options.port, ...(options.reusePort ? { reusePort: true } : {}) };
  // Deno's TLS (rustls) speaks TLS 1.2 and 1.3 only; its connections read and write like plain ones. It takes
  // one certificate and has no SNI callback.
  if (options.tls && options.tls.certificates.length > 1) {
    throw new Error(`${options.hostname}:${options.port}: several certificates on one TLS listener (chosen by SNI) need Bun; on Deno, give one`);
  }
  const listener = options.tls
    ? Deno.listenTls({ ...address, cert: options.tls.certificates[0]!.cert, key: options.tls.certificates[0]!.key, alpnProtocols: options.tls.alpn })
    : Deno.listen({ ...address, transport: "tcp" });
  const { hostname, port } = listener.addr;
  let stopped = false;
  // Paused by the accept guard, the loop stops calling accept(): new clients wait in the kernel's backlog.
  let paused = false;
  let wake: (() => void) | undefined;
  const pausable = {
    address: hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      wake?.();
      return true;
    },
  };
  guard.add(pausable);
  void (async () => {
    let retryMs = ACCEPT_RETRY_MS;
    while (!stopped) {
      if (paused) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      let conn: DenoConn;
      try {
        conn = await listener.accept();
        retryMs = ACCEPT_RETRY_MS;
      } catch (error) {
        if (stopped) return;
        if ((error as Error)?.name === "BadResource") return;
        // Out of file descriptors and the like: the listener itself is fine; try again, a little later each time.
        if (outOfDescriptors(error)) guard.exhausted();
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        retryMs = Math.min(MAX_ACCEPT_RETRY_MS, retryMs * 2);
        continue;
      }
      const socket = new DenoTcpSocket(conn);
      let handlers: TcpHandlers;
      try {
        handlers = options.accept(socket);
      } catch {
        conn.close();
        continue;
      }
      socket.start(handlers);
    }
  })();
  return {
    hostname,
    port,
    stop() {
      if (stopped) return;
      stopped = true;
      guard.delete(pausable);
      wake?.();
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
  };
}

async function connectTcp(options: TcpConnectOptions, handlers: TcpHandlers): Promise<TcpSocket> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let conn: DenoConn;
  try {
    conn = options.tls
      ? await connectTls(options, options.tls, signal)
      : await Deno.connect({ hostname: options.hostname, port: options.port, transport: "tcp", signal });
  } catch (error) {
    if (timeout.aborted) throw new ConnectTimeout(options);
    throw error;
  }
  const socket = new DenoTcpSocket(conn);
  socket.start(handlers);
  return socket;
}

const CLIENT_CERTIFICATE_WITH_OTHER_NAME =
  "not available on Deno with a server name other than the host connected to (Deno.startTls takes no client certificate): leave serverName and resolve out";

/**
 * A TLS connection whose handshake is done. Deno.startTls over a Deno.connect checks the certificate against any
 * name (serverName), and the connect honours the signal; but startTls takes no client certificate, so with one
 * Deno.connectTls is used, whose name is the host it connects to. Neither can skip verification, and `caCerts`
 * are trusted besides Deno's own roots, not instead of them. rustls sends no SNI for an IP address.
 */
async function connectTls(options: TcpConnectOptions, tls: TlsClientSettings, signal: AbortSignal): Promise<DenoConn> {
  if (!tls.verify) throw new Error(`insecureSkipVerify: ${SKIP_VERIFY}`);
  const caCerts = tls.ca === undefined ? undefined : [tls.ca];
  const alpnProtocols = [...tls.alpn];
  let opening: Promise<DenoTlsConn>;
  if (tls.clientCertificate) {
    if (tls.serverName !== undefined && tls.serverName !== options.hostname) throw new Error(`a client certificate is ${CLIENT_CERTIFICATE_WITH_OTHER_NAME}`);
    opening = Deno.connectTls({ hostname: options.hostname, port: options.port, caCerts, alpnProtocols, ...tls.clientCertificate });
  } else {
    const tcp = await Deno.connect({ hostname: options.hostname, port: options.port, transport: "tcp", signal });
    opening = Deno.startTls(tcp, { hostname: tls.serverName ?? options.hostname, caCerts, alpnProtocols });
  }
  // Neither the handshake nor connectTls takes the signal: an attempt given up on is closed once it settles.
  // Not sooner: a TLS connection closed during its handshake stays open on the wire (measured on 2.9: the
  // server never sees it close), while one whose handshake ends (the server gives up, or answers) closes.
  const handshake = opening.then(async (conn) => {
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return conn;
  });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new Error("aborted"));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([handshake, aborted]);
  } catch (error) {
    handshake.then(
      (conn) => conn.close(),
      () => {},
    );
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

interface DenoTlsConn extends DenoConn {
  handshake(): Promise<{ alpnProtocol: string | null }>;
}

const SKIP_VERIFY = "not available on Deno: its TLS client always verifies the server's certificate (give the server's CA in tls.ca instead)";

/** The connection was not made within `timeoutMs`. */
export class ConnectTimeout extends Error {
  readonly code = "ETIMEDOUT";
  constructor(options: TcpConnectOptions) {
    super(`connect to ${options.hostname}:${options.port} timed out after ${options.timeoutMs}ms`);
  }
}

export const denoSockets: SocketRuntime = {
  listenTcp,
  connectTcp,
  bindUdp,
  tlsClientLimits: { skipVerify: SKIP_VERIFY, clientCertificateWithOtherName: CLIENT_CERTIFICATE_WITH_OTHER_NAME },
};
