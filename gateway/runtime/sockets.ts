// Raw TCP and UDP sockets, the shape both runtime adapters implement: the L4 listeners and the HTTP engine
// (its listeners, and its upstream connections, plain or TLS) run on them.

/** What happens on one TCP connection, as the owner of the socket handles it. */
export interface TcpHandlers {
  /** Bytes arrived. The chunk is only valid during the call: copy it to keep it. */
  data(chunk: Uint8Array): void;
  /** Everything `write` could not take at once has been flushed: write again. */
  drain(): void;
  /** The peer half-closed (sent FIN): no more data will arrive; writing may go on. */
  end(): void;
  /** The connection is fully closed (after both sides ended, a reset, or an error). Called exactly once. */
  close(error?: Error): void;
}

export interface TcpSocket {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /**
   * Queue bytes for sending (the first `length` of them, all by default: saves the caller a view). Returns true when the runtime took them all without buffering past its
   * limit; false means "stop producing until `drain`" (the bytes are still kept and sent — never lost).
   */
  write(chunk: Uint8Array, length?: number): boolean;
  /**
   * Bytes `write` took that the runtime has not handed to the kernel yet: while `write` answers false, a
   * smaller figure later means the peer is reading. Optional: a socket that does not say is judged by `drain`.
   */
  readonly pendingBytes?: number;
  /** Half-close: send FIN once the queued bytes are out; reading goes on. */
  shutdown(): void;
  /** Close both directions once the queued bytes are out. */
  end(): void;
  /** Close now, dropping what is queued (a reset where the runtime can). */
  destroy(): void;
  /** Stop / resume reading (backpressure toward the peer). */
  pause(): void;
  resume(): void;
}

export interface TcpServer {
  readonly hostname: string;
  readonly port: number;
  /** Stop accepting; open connections are left to their owners. */
  stop(): void;
  /**
   * A TLS listener's certificates replaced for the handshakes from now on; open connections go on. Absent
   * where the runtime cannot (the certificates then stay those of the start).
   */
  updateTls?(settings: TlsServerSettings): void;
}

export interface TcpListenOptions {
  hostname: string;
  port: number;
  /** Several processes may listen on the same port (SO_REUSEPORT: the `workers` setting). */
  reusePort?: boolean;
  /** Speak TLS on accepted connections (TLS 1.2 and 1.3); `accept` is called once the handshake is done. */
  tls?: TlsServerSettings;
  /** Called per accepted connection; returns the handlers for its events. */
  accept(socket: TcpSocket): TcpHandlers;
}

export interface TlsServerSettings {
  /** Certificate chains and their private keys, PEM; the first is served to clients that name no server. */
  certificates: Array<{ cert: string; key: string }>;
  /** Which certificate a client naming `serverName` (SNI) gets: an index into `certificates`. */
  choose(serverName: string): number;
  /** The application protocols offered by ALPN, in order of preference ("http/1.1"). */
  alpn: string[];
  /**
   * A client that has not finished its handshake by then is cut. Not on Deno: its TLS connection, closed
   * during its handshake, stays open until the client leaves (measured on 2.9).
   */
  handshakeTimeoutMs: number;
}

export interface TcpConnectOptions {
  hostname: string;
  port: number;
  /** Bounds the TCP connect and, with `tls`, the handshake too. */
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Speak TLS on the connection: `connectTcp` resolves once the handshake is done and the server's certificate
   * passed the checks asked for, and rejects when it did not (the runtime's error, its code kept).
   */
  tls?: TlsClientSettings;
}

/** How a client connection speaks TLS to a server (upstream TLS). Read-only: one object serves many connections. */
export interface TlsClientSettings {
  /**
   * The name sent as SNI, which the server's certificate must hold. Undefined: no SNI is sent (RFC 6066 names
   * no IP address) and the certificate must hold the address connected to.
   */
  readonly serverName: string | undefined;
  /** PEM certificates of the CAs that vouch for servers; undefined: the runtime's trusted roots. */
  readonly ca: string | undefined;
  /** A client certificate chain and its key, PEM, presented when the server asks for one (mutual TLS). */
  readonly clientCertificate: { readonly cert: string; readonly key: string } | undefined;
  /** Check the server's certificate (chain and name). False only where the config says `insecureSkipVerify`. */
  readonly verify: boolean;
  /** The application protocols offered by ALPN, in order of preference ("http/1.1"). */
  readonly alpn: readonly string[];
}

/**
 * What a runtime's TLS client cannot do: a config asking for it is refused at load, with this reason, instead
 * of failing on every connection later. Absent: the runtime does all of it.
 */
export interface TlsClientLimits {
  /** Why `verify: false` is not available, if it is not. */
  readonly skipVerify?: string;
  /** Why a client certificate cannot go with a server name other than the host connected to, if it cannot. */
  readonly clientCertificateWithOtherName?: string;
}

/** One datagram and who sent it. */
export interface Datagram {
  data: Uint8Array;
  address: string;
  port: number;
}

export interface UdpSocket {
  readonly hostname: string;
  readonly port: number;
  /** Send one datagram; false when the runtime dropped it (buffer full). */
  send(data: Uint8Array, address: string, port: number): boolean;
  close(): void;
}

export interface UdpBindOptions {
  hostname: string;
  port: number;
  receive(datagram: Datagram): void;
  /**
   * The runtime reported an error for this socket (an ICMP "port unreachable" from a peer, a failed send).
   * Bun reports them, even on unconnected sockets; Deno does not, and then UDP has no passive failures.
   */
  error?(error: Error): void;
}

/** The socket half of the Runtime interface. */
export interface SocketRuntime {
  listenTcp(options: TcpListenOptions): Promise<TcpServer>;
  /** Connect; resolves once connected (with `tls`: once the handshake is done), rejects on refusal, error, abort or after `timeoutMs`. */
  connectTcp(options: TcpConnectOptions, handlers: TcpHandlers): Promise<TcpSocket>;
  /** What `connectTcp`'s TLS cannot do on this runtime. */
  readonly tlsClientLimits?: TlsClientLimits;
  bindUdp(options: UdpBindOptions): Promise<UdpSocket>;
}
