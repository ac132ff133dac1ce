// A client connection that stays open, for filling a listener up to its descriptor limit.
import { connect, type Socket } from "node:net";

/**
 * Connect and keep the socket (pushed to `sockets`, for the caller to destroy); resolves once it connected or
 * failed, or after 100 ms (a listener that stopped accepting leaves handshakes to the kernel's backlog, and once
 * that is full they just wait).
 */
export function holdConnection(port: number, sockets: Socket[]): Promise<void> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port });
    sockets.push(socket);
    const timer = setTimeout(done, 100);
    const settle = () => {
      clearTimeout(timer);
      done();
    };
    socket.once("connect", settle);
    socket.once("error", settle);
  });
}
