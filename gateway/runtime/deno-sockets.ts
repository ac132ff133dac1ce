// The deno adapter's raw TCP sockets (see sockets.ts for the contract); UDP lives in deno-udp.ts.
import type { SocketRuntime } from "./sockets.ts";
import { bindUdp } from "./deno-udp.ts";

export const denoSockets: SocketRuntime = {
  listenTcp: () => Promise.reject(new Error("tcp listeners are not implemented yet")),
  connectTcp: () => Promise.reject(new Error("tcp connections are not implemented yet")),
  bindUdp,
};
