// An HTTP/1.1 listener on the runtime's raw TCP sockets: accepts connections, gives each its
// DownstreamConnection, and drains them on stop (idle ones closed at once, busy ones after their answer).
import type { SocketRuntime } from "../runtime/sockets.ts";
import type { HttpListener } from "../runtime/types.ts";
import type { RequestHead } from "./head.ts";
import { DownstreamConnection, type DownstreamOptions } from "./downstream.ts";

export interface HttpListenOptions {
  hostname: string;
  port: number;
  reusePort?: boolean;
  connection: Omit<DownstreamOptions, "onClose" | "onRequest">;
  onRequest(connection: DownstreamConnection, head: RequestHead): void;
}

export async function listenHttp(sockets: SocketRuntime, options: HttpListenOptions): Promise<HttpListener> {
  const open = new Set<DownstreamConnection>();
  let stopping = false;
  let allClosed: (() => void) | undefined;
  const connectionOptions: DownstreamOptions = {
    ...options.connection,
    onRequest: options.onRequest,
    onClose(connection) {
      open.delete(connection);
      if (open.size === 0) allClosed?.();
    },
  };
  const server = await sockets.listenTcp({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort,
    accept(socket) {
      const connection = new DownstreamConnection(socket, connectionOptions);
      if (stopping) connection.closeWhenIdle();
      else open.add(connection);
      return connection;
    },
  });
  return {
    hostname: server.hostname,
    port: server.port,
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
