// The bun adapter's UDP sockets (see sockets.ts for the contract), on Bun.udpSocket.
//
// Bun reports ICMP errors even on unconnected sockets: a "port unreachable" coming back for a datagram
// calls the `error` handler, and the same pending error makes the *next* send throw ECONNREFUSED — whoever
// that send was for, since the error belongs to the socket. So a send that throws ECONNREFUSED is reported
// and tried once more: on a listener socket serving many clients, one client that went away must not cost
// the next client its reply.
import type { SocketRuntime, UdpBindOptions, UdpSocket } from "./sockets.ts";

/** Beyond the contract: where the runtime's errors for this socket go, when the caller listens for them. */
type BindOptions = UdpBindOptions & { error?(error: Error): void };

function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  // Bun 1.4 calls the handler without an error object for a queued ICMP error.
  return Object.assign(new Error("ICMP error from the peer (port or host unreachable)"), { code: "ECONNREFUSED" });
}

export const bindUdp: SocketRuntime["bindUdp"] = async (options: BindOptions): Promise<UdpSocket> => {
  const report = (error: unknown) => options.error?.(asError(error));
  const socket = await Bun.udpSocket({
    hostname: options.hostname,
    port: options.port,
    binaryType: "uint8array",
    socket: {
      data(_socket, data, port, address, flags) {
        // Never pass on part of a datagram as if it were all of it.
        if (flags?.truncated) return;
        options.receive({ data, address, port });
      },
      error(_socket, error) {
        report(error);
      },
    },
  });
  function send(data: Uint8Array, address: string, port: number): boolean {
    if (socket.closed) return false;
    try {
      return socket.send(data, port, address);
    } catch (error) {
      report(error);
      if ((error as { code?: string }).code !== "ECONNREFUSED" || socket.closed) return false;
      try {
        return socket.send(data, port, address);
      } catch (again) {
        report(again);
        return false;
      }
    }
  }
  return {
    hostname: socket.hostname,
    port: socket.port,
    send,
    close: () => socket.close(),
  };
};
