// An HTTP/1.1 listener on the runtime's raw TCP sockets: accepts connections, gives each its
// DownstreamConnection, refuses those over `maxConnections`, and drains them on stop (idle ones closed at
// once, busy ones after their answer).
import type { SocketRuntime, TcpHandlers, TcpSocket, TlsServerSettings } from "../runtime/sockets.ts";
import type { HttpListener } from "../runtime/types.ts";
import type { RequestHead } from "./head.ts";
import { DownstreamConnection, type DownstreamOptions } from "./downstream.ts";
import { errorAnswer } from "./response-writer.ts";
import { requestIdFor } from "../proxy/headers.ts";

export interface HttpListenOptions {
  hostname: string;
  port: number;
  reusePort?: boolean;
  /** Connections held at once; 0: no limit. */
  maxConnections: number;
  /** HTTPS: TLS is terminated here, and the connections carry the plain HTTP/1.1 inside it. */
  tls?: TlsServerSettings;
  connection: Omit<DownstreamOptions, "onClose" | "onRequest" | "onRefused">;
  onRequest(connection: DownstreamConnection, head: RequestHead): void;
  onRefused?: DownstreamOptions["onRefused"];
}

/** What /status and /metrics show of one HTTP listener. */
export interface HttpListenerStats {
  /** Connections open now. */
  connections: number;
  maxConnections: number;
  /** Connections refused since start because `maxConnections` were open. */
  refused: number;
}

export interface EngineListener extends HttpListener {
  stats(): HttpListenerStats;
  /** An HTTPS listener's certificates replaced (reload); false where the runtime cannot, or for plain HTTP. */
  updateTls(settings: TlsServerSettings): boolean;
}

/**
 * How long a refused connection goes on reading (and dropping) what the client sends after its 503: closing
 * with a request unread makes the kernel answer with a reset, and the client may lose the 503 with it.
 */
const REFUSED_LINGER_MS = 1_000;
/** Refused connections lingering at once, at most: beyond (a flood), they are closed at once. */
const MAX_REFUSED_LINGERING = 1_024;

export async function listenHttp(sockets: SocketRuntime, options: HttpListenOptions): Promise<EngineListener> {
  const open = new Set<DownstreamConnection>();
  let stopping = false;
  let allClosed: (() => void) | undefined;
  let refused = 0;
  let lingering = 0;
  const connectionOptions: DownstreamOptions = {
    ...options.connection,
    onRequest: options.onRequest,
    onRefused: options.onRefused,
    onClose(connection) {
      open.delete(connection);
      if (open.size === 0) allClosed?.();
    },
  };

  /**
   * Over the limit, a connection is accepted and answered at once with a 503 (JSON, `Connection: close`,
   * `Retry-After`) rather than left in the kernel's backlog (HAProxy's maxconn) or reset (nginx past
   * worker_connections): the client learns why, costing the gateway one small write and no parsing.
   */
  function refuse(socket: TcpSocket): TcpHandlers {
    refused++;
    const extra = `retry-after: 1\r\n${options.connection.answerFields?.lines ?? ""}`;
    socket.write(errorAnswer(503, "too many connections", requestIdFor(null), true, false, extra));
    if (lingering >= MAX_REFUSED_LINGERING) {
      socket.end();
      return DROP;
    }
    lingering++;
    socket.shutdown();
    const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    return {
      data() {},
      drain() {},
      end: () => socket.destroy(),
      close() {
        lingering--;
        clearTimeout(timer);
      },
    };
  }

  const server = await sockets.listenTcp({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort,
    tls: options.tls,
    accept(socket) {
      if (options.maxConnections > 0 && open.size >= options.maxConnections) return refuse(socket);
      const connection = new DownstreamConnection(socket, connectionOptions);
      if (stopping) connection.closeWhenIdle();
      else open.add(connection);
      return connection;
    },
  });
  return {
    hostname: server.hostname,
    port: server.port,
    stats: () => ({ connections: open.size, maxConnections: options.maxConnections, refused }),
    updateTls(settings) {
      if (!options.tls || !server.updateTls) return false;
      server.updateTls(settings);
      return true;
    },
    async stop(force) {
      if (!stopping) {
        stopping = true;
        server.stop();
      }
      for (const connection of [...open]) {
        if (force) connection.closeNow(false);
        else connection.closeWhenIdle();
      }
      if (open.size > 0) await new Promise<void>((resolve) => (allClosed = resolve));
    },
  };
}

/** A refused connection that is simply closed: whatever it still sends is dropped. */
const DROP: TcpHandlers = { data() {}, drain() {}, end() {}, close() {} };
