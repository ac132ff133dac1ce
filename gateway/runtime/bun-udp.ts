// The bun adapter's UDP sockets (see sockets.ts for the contract).
import type { SocketRuntime } from "./sockets.ts";

export const bindUdp: SocketRuntime["bindUdp"] = () => Promise.reject(new Error("udp sockets are not implemented yet"));
