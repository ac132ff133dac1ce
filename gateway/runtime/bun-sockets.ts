// The bun adapter's raw TCP sockets (see sockets.ts for the contract); UDP lives in bun-udp.ts.
//
// What Bun does that this file evens out (measured on the runtime itself):
// - `socket.write()` may take fewer bytes than given and returns the count: the rest is copied into a
//   per-socket queue, flushed on `drain`, and `write` answers false while anything is queued.
// - Half-close needs `allowHalfOpen: true` on both Bun.listen and Bun.connect, and `shutdown()` (SHUT_WR).
// - `end()` closes both directions at once (its `close` callback runs inside the call): so `end` and
//   `shutdown` here wait for the queue to be flushed first.
// - A socket that already sent its FIN and then receives the peer's FIN is closed by Bun without an `end`
//   callback: the peer's half-close is reported here anyway, before `close`.
// - A peer's reset arrives as `close` with an ECONNRESET error; `terminate()` resets (SO_LINGER 0).
// - Bun.connect cannot be cancelled before it opens: after a timeout or abort the attempt is abandoned and
//   reset as soon as it opens; one that never opens (a blackholed server) holds its descriptor until the
//   kernel gives up on the handshake (about two minutes on Linux).
// - Upstream TLS (Bun.connect's `tls`): `open` comes before the handshake and a write then takes 0 bytes, so a
//   TLS connection is handed over at `handshake`. Bun checks the chain against `ca` (its own roots without one)
//   and the name against `serverName`; it sends the address as SNI unless `serverName` is "" (RFC 6066 names
//   no IP address). `ALPNProtocols` takes the wire form, not an array.
// - A listener whose accept() fails for want of descriptors retries at once, forever (100% CPU): the accept
//   guard (accept-guard.ts) closes the listening sockets before that and listens again later.
import type { Socket, SocketHandler } from "bun";
import { copyOf } from "./copy.ts";
import type { SocketRuntime, TcpConnectOptions, TcpHandlers, TcpListenOptions, TcpServer, TcpSocket, TlsClientSettings } from "./sockets.ts";
import { bindUdp } from "./bun-udp.ts";
import { AcceptGuard } from "./accept-guard.ts";
import { listenTls } from "./bun-tls-listener.ts";

/** Every socket of this adapter counts against the process's descriptors. */
const guard = new AcceptGuard();

type Raw = Socket<BunTcpSocket>;

/** One connection: the contract's TcpSocket over a Bun socket, with the write queue Bun does not keep. */
class BunTcpSocket implements TcpSocket {
  handlers: TcpHandlers | undefined;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private shutdownWanted = false;
  private endWanted = false;
  private writeShut = false;
  /** The peer's FIN was reported (`end`). */
  private peerEnded = false;
  private destroyed = false;
  closed = false;
  /** A close that came while `accept` was still choosing the handlers. */
  private earlyClose: { error?: Error } | undefined;

  constructor(private readonly raw: Raw) {
    guard.opened();
  }

  get remoteAddress(): string {
    return this.raw.remoteAddress;
  }
  get remotePort(): number {
    return this.raw.remotePort;
  }
  get localAddress(): string {
    return this.raw.localAddress;
  }
  get localPort(): number {
    return this.raw.localPort;
  }
  get pendingBytes(): number {
    return this.queued;
  }

  write(chunk: Uint8Array, length = chunk.byteLength): boolean {
    if (this.closed || this.writeShut || this.shutdownWanted || this.endWanted) return true;
    if (length === 0) return this.queued === 0;
    if (this.queued > 0) {
      this.enqueue(copyOf(chunk, 0, length));
      return false;
    }
    const n = this.raw.write(chunk, 0, length);
    if (n === length) return true;
    // -1: closed or shutting down; `close` follows and settles everything.
    if (n < 0) return true;
    this.enqueue(copyOf(chunk, n, length));
    return false;
  }

  private enqueue(copy: Uint8Array): void {
    this.queue.push(copy);
    this.queued += copy.byteLength;
  }

  /** Bun says the socket is writable again: flush the queue, then do the close asked for, then tell the owner. */
  onDrain(): void {
    if (this.closed) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const n = this.raw.write(head);
      if (n < 0) return;
      this.queued -= n;
      if (n < head.byteLength) {
        this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
    if (this.finishPendingClose()) return;
    this.handlers?.drain();
  }

  /** Runs a shutdown or end that waited for the queue. True when the socket is gone (no drain to report). */
  private finishPendingClose(): boolean {
    if (this.endWanted) {
      this.endWanted = false;
      this.raw.end();
      return true;
    }
    if (this.shutdownWanted) {
      this.shutdownWanted = false;
      this.writeShut = true;
      this.raw.shutdown();
    }
    return this.closed;
  }

  shutdown(): void {
    if (this.closed || this.writeShut || this.endWanted) return;
    this.shutdownWanted = true;
    if (this.queued === 0) this.finishPendingClose();
  }

  end(): void {
    if (this.closed || this.endWanted) return;
    this.endWanted = true;
    if (this.queued === 0) this.finishPendingClose();
  }

  destroy(): void {
    if (this.closed) return;
    this.destroyed = true;
    this.queue.length = 0;
    this.queued = 0;
    this.raw.terminate();
  }

  pause(): void {
    if (!this.closed) this.raw.pause();
  }

  resume(): void {
    if (!this.closed) this.raw.resume();
  }

  onData(chunk: Uint8Array): void {
    this.handlers?.data(chunk);
  }

  onEnd(): void {
    if (this.peerEnded || this.closed) return;
    this.peerEnded = true;
    this.handlers?.end();
  }

  onClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    guard.closed();
    this.queue.length = 0;
    this.queued = 0;
    if (!this.handlers) {
      this.earlyClose = { error };
      return;
    }
    // Bun closes a socket whose both directions are done without reporting the peer's FIN: report it.
    if (!error && !this.destroyed && !this.peerEnded) {
      this.peerEnded = true;
      this.handlers.end();
    }
    this.handlers.close(error);
  }

  /** The owner's handlers are known (after accept / connect): deliver a close that came before them. */
  attach(handlers: TcpHandlers): void {
    this.handlers = handlers;
    if (this.earlyClose) {
      const { error } = this.earlyClose;
      this.earlyClose = undefined;
      handlers.close(error);
    }
  }
}

/** The callbacks Bun calls, the same for every socket: each goes to the socket's own wrapper (`data`). */
const events: SocketHandler<BunTcpSocket> & { binaryType: "uint8array" } = {
  binaryType: "uint8array",
  data: (raw, chunk) => raw.data?.onData(chunk as unknown as Uint8Array),
  drain: (raw) => raw.data?.onDrain(),
  end: (raw) => raw.data?.onEnd(),
  close: (raw, error) => raw.data?.onClose(error),
  // Called when one of our handlers throws: that must not leave the connection half-handled.
  error: (raw, error) => {
    raw.data?.onClose(error);
    raw.terminate();
  },
};

async function listenTcp(options: TcpListenOptions): Promise<TcpServer> {
  // Bun.listen serves one certificate and cannot change it: TLS listeners run on node:tls (bun-tls-listener.ts).
  if (options.tls) return listenTls({ ...options, tls: options.tls }, guard);
  const listen = (port: number) =>
    Bun.listen<BunTcpSocket>({
      hostname: options.hostname,
      port,
      // Workers share the port (SO_REUSEPORT); Bun.listen takes `reusePort` like Bun.serve, though its types omit it.
      ...(options.reusePort ? { reusePort: true } : {}),
      allowHalfOpen: true,
      socket: {
        ...events,
        open(raw) {
          const socket = new BunTcpSocket(raw);
          raw.data = socket;
          raw.setNoDelay(true);
          socket.attach(options.accept(socket));
        },
      },
    });
  let listener: ReturnType<typeof listen> | undefined = listen(options.port);
  const { hostname, port } = listener;
  // Paused by the accept guard, the listening socket is closed (open connections go on) and made anew later.
  const pausable = {
    address: hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`,
    pause() {
      listener?.stop(false);
      listener = undefined;
    },
    resume() {
      try {
        listener ??= listen(port);
        return true;
      } catch {
        return false;
      }
    },
  };
  guard.add(pausable);
  return {
    hostname,
    port,
    stop() {
      guard.delete(pausable);
      // false: open connections stay with their owners (the L4 listener drains them itself).
      listener?.stop(false);
      listener = undefined;
    },
  };
}

function connectTcp(options: TcpConnectOptions, handlers: TcpHandlers): Promise<TcpSocket> {
  return new Promise((resolve, reject) => {
    const { signal, tls } = options;
    if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
    // Set once the attempt is over either way: a connection completing after a timeout or abort is reset.
    let settled = false;
    /** A TLS connection open but still in its handshake: reset when the attempt fails meanwhile. */
    let handshaking: Raw | undefined;
    const timer = setTimeout(() => fail(new ConnectTimeout(options)), options.timeoutMs);
    const onAbort = () => fail(signal!.reason ?? new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    function done() {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
    function fail(error: unknown) {
      if (settled) return;
      done();
      handshaking?.terminate();
      reject(error);
    }
    /** The connection is the caller's from now on: opened (plain), or its handshake passed (TLS). */
    function ready(raw: Raw) {
      if (settled) {
        raw.terminate();
        return;
      }
      done();
      const socket = new BunTcpSocket(raw);
      raw.data = socket;
      raw.setNoDelay(true);
      socket.attach(handlers);
      resolve(socket);
    }
    Bun.connect<BunTcpSocket>({
      hostname: options.hostname,
      port: options.port,
      allowHalfOpen: true,
      tls: tls === undefined ? undefined : bunTlsOf(tls),
      socket: {
        ...events,
        open(raw) {
          // TLS: bytes written before the handshake ends are dropped (Bun's write takes 0 of them): wait for it.
          if (!tls || settled) ready(raw);
          else handshaking = raw;
        },
        handshake(raw, success, authorizationError) {
          // `success` is false for a chain or a name that does not verify (Bun then closes the connection when
          // asked to verify); without verification the error is only reported, and the connection goes on.
          handshaking = undefined;
          if (!tls!.verify || (success && !authorizationError)) ready(raw);
          else {
            fail(authorizationError ?? new Error("TLS handshake failed"));
            raw.terminate();
          }
        },
        // A connection that fails or closes before it is ready (a refused handshake) ends the attempt.
        close: (raw, error) => (raw.data ? raw.data.onClose(error) : fail(error ?? new HandshakeClosed(options))),
        error: (raw, error) => {
          if (raw.data) events.error!(raw, error);
          else {
            fail(error);
            raw.terminate();
          }
        },
        connectError(_raw, error) {
          fail(error);
        },
      },
    }).catch(fail);
  });
}

/** Bun's `tls` option for one set of settings, made once (ALPN in its wire form: length-prefixed names). */
const bunTls = new WeakMap<TlsClientSettings, object>();
function bunTlsOf(settings: TlsClientSettings): object {
  let made = bunTls.get(settings);
  if (!made) {
    made = {
      // "" sends no SNI (an IP address); the certificate is then checked against the address connected to.
      serverName: settings.serverName ?? "",
      rejectUnauthorized: settings.verify,
      ALPNProtocols: settings.alpn.map((name) => String.fromCharCode(name.length) + name).join(""),
      ...(settings.ca !== undefined ? { ca: settings.ca } : {}),
      ...(settings.clientCertificate ? { cert: settings.clientCertificate.cert, key: settings.clientCertificate.key } : {}),
    };
    bunTls.set(settings, made);
  }
  return made;
}

/** The server closed the connection before the TLS handshake was done (it refused it, or does not speak TLS). */
class HandshakeClosed extends Error {
  readonly code = "ECONNRESET";
  constructor(options: TcpConnectOptions) {
    super(`${options.hostname}:${options.port} closed the connection during the TLS handshake`);
  }
}

/** The connection was not made within `timeoutMs`. */
export class ConnectTimeout extends Error {
  readonly code = "ETIMEDOUT";
  constructor(options: TcpConnectOptions) {
    super(`connect to ${options.hostname}:${options.port} timed out after ${options.timeoutMs}ms`);
  }
}

export const bunSockets: SocketRuntime = {
  listenTcp,
  connectTcp,
  bindUdp,
};
