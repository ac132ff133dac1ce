// TLS listeners for the bun adapter, with certificates chosen by the client's server name (SNI) and replaced
// on reload. Bun.listen takes one certificate, no SNI callback and no new certificate once listening;
// node:tls (which Bun implements) does all three, so TLS listeners run on it. Its sockets are node streams,
// which keep their own write queue: the contract's TcpSocket maps onto them directly.
import { createSecureContext, createServer, type SecureContext, type Server, type TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { copyOf } from "./copy.ts";
import type { TcpHandlers, TcpListenOptions, TcpServer, TcpSocket, TlsServerSettings } from "./sockets.ts";
import type { AcceptGuard } from "./accept-guard.ts";

class NodeTlsSocket implements TcpSocket {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  private closed = false;
  private destroyed = false;

  constructor(private readonly raw: TLSSocket) {
    this.remoteAddress = plainAddress(raw.remoteAddress ?? "");
    this.remotePort = raw.remotePort ?? 0;
    this.localAddress = plainAddress(raw.localAddress ?? "");
    this.localPort = raw.localPort ?? 0;
    raw.setNoDelay(true);
  }

  /** Deliver the socket's events to `handlers` from now on. */
  start(handlers: TcpHandlers): void {
    let failure: Error | undefined;
    this.raw.on("data", (chunk: Uint8Array) => handlers.data(chunk));
    this.raw.on("drain", () => handlers.drain());
    this.raw.on("end", () => handlers.end());
    this.raw.on("error", (error) => (failure = error));
    this.raw.on("close", () => {
      this.closed = true;
      handlers.close(this.destroyed ? undefined : failure);
    });
  }

  get pendingBytes(): number {
    return this.raw.writableLength;
  }

  write(chunk: Uint8Array, length = chunk.byteLength): boolean {
    if (this.closed || this.raw.writableEnded) return true;
    // The stream may hold the bytes past this call, and callers reuse their buffers.
    return this.raw.write(copyOf(chunk, 0, length));
  }

  shutdown(): void {
    if (!this.closed && !this.raw.writableEnded) this.raw.end();
  }

  end(): void {
    if (this.closed) return;
    if (!this.raw.writableEnded) this.raw.end();
    // Both directions: once what is queued went out, the reading side is closed too.
    this.raw.once("finish", () => this.raw.destroy());
    if (this.raw.writableFinished) this.raw.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.destroyed = true;
    this.raw.destroy();
  }

  pause(): void {
    this.raw.pause();
  }

  resume(): void {
    this.raw.resume();
  }
}

/** "::ffff:127.0.0.1" → "127.0.0.1", as Bun.listen reports it. */
function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/** `guard` counts every connection from its accept (handshakes included) and pauses the listener with the others. */
export async function listenTls(options: TcpListenOptions & { tls: TlsServerSettings }, guard: AcceptGuard): Promise<TcpServer> {
  // Replaced together on reload: a handshake sees the old pair or the new one, never a mix.
  let settings = options.tls;
  let contexts = contextsOf(settings);
  // A server per listening socket: one paused by the accept guard is closed (its connections go on), and a
  // new one listens on the same port when the guard resumes.
  function newServer(): Server {
    const server = createServer({
      cert: settings.certificates[0]!.cert,
      key: settings.certificates[0]!.key,
      minVersion: "TLSv1.2",
      ALPNProtocols: settings.alpn,
      allowHalfOpen: true,
      handshakeTimeout: settings.handshakeTimeoutMs,
      SNICallback(serverName, done) {
        done(null, contexts[settings.choose(serverName)] ?? contexts[0]);
      },
    });
    server.on("connection", (tcp: Socket) => {
      guard.opened();
      tcp.once("close", () => guard.closed());
    });
    server.on("secureConnection", (raw: TLSSocket) => {
      const socket = new NodeTlsSocket(raw);
      let handlers: TcpHandlers;
      try {
        handlers = options.accept(socket);
      } catch {
        raw.destroy();
        return;
      }
      socket.start(handlers);
    });
    // A client that fails its handshake, or takes too long over it, is no connection of ours. Bun reports a
    // handshake timeout here but leaves the socket open: it is closed here.
    server.on("tlsClientError", (_error, socket) => socket.destroy());
    // Errors after listening (none expected) must not take the process down.
    server.on("error", () => {});
    return server;
  }
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: options.hostname, port, ...(options.reusePort ? { reusePort: true } : {}) }, () => {
        server.off("error", reject);
        const address = server.address();
        resolve(typeof address === "object" && address ? address.port : port);
      });
    });
  let current: Server | undefined = newServer();
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  const port = await listen(current, options.port);
  const pausable = {
    address: options.hostname.includes(":") ? `[${options.hostname}]:${port}` : `${options.hostname}:${port}`,
    pause() {
      current?.close();
      current = undefined;
      // With its server closed, nothing here holds Bun's event loop (measured: the process exited while
      // paused): a timer holds it until the listener resumes or stops.
      keepAlive ??= setInterval(() => {}, 60_000);
    },
    resume() {
      clearInterval(keepAlive);
      keepAlive = undefined;
      if (current) return true;
      const server = newServer();
      current = server;
      listen(server, port).catch(() => {
        if (current === server) current = undefined; // tried again at the guard's next check
      });
      return true;
    },
  };
  guard.add(pausable);
  return {
    hostname: options.hostname,
    port,
    stop() {
      clearInterval(keepAlive);
      keepAlive = undefined;
      guard.delete(pausable);
      current?.close();
      current = undefined;
    },
    updateTls(next) {
      // New servers (after a pause) are made from `settings`; the listening one takes the new default now.
      const nextContexts = contextsOf(next);
      current?.setSecureContext({ cert: next.certificates[0]!.cert, key: next.certificates[0]!.key, minVersion: "TLSv1.2" });
      settings = next;
      contexts = nextContexts;
    },
  };
}

function contextsOf(settings: TlsServerSettings): SecureContext[] {
  return settings.certificates.map((c) => createSecureContext({ cert: c.cert, key: c.key, minVersion: "TLSv1.2" }));
}
