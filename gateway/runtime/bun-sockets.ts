// The bun adapter's raw TCP sockets (see sockets.ts for the contract); UDP lives in bun-udp.ts.
import type { SocketRuntime } from "./sockets.ts";
import { bindUdp } from "./bun-udp.ts";

export const bunSockets: SocketRuntime = {
  listenTcp: () => Promise.reject(new Error("tcp listeners are not implemented yet")),
  connectTcp: () => Promise.reject(new Error("tcp connections are not implemented yet")),
  bindUdp,
};
