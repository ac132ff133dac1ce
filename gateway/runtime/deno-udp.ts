// The deno adapter's UDP sockets (see sockets.ts for the contract).
//
// Deno's own API, Deno.listenDatagram, is still unstable in Deno 2.x: it exists only when Deno runs with
// `--unstable-net`. Without the flag the adapter uses Deno's built-in node:dgram, which is stable, so UDP
// listeners work under `deno task start` either way. Both report the same things: datagrams, and errors
// from sends. Neither surfaces ICMP "port unreachable" (the kernel keeps it from unconnected sockets).
//
// Sends are asynchronous in both: `send` starts one and returns at once. While MAX_IN_FLIGHT sends are
// still waiting for the kernel to take them, further datagrams are dropped (false): UDP's answer to a
// full buffer, and a bound on the memory a flood can hold.
import type { Datagram, SocketRuntime, UdpBindOptions, UdpSocket } from "./sockets.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

/** Beyond the contract: where the runtime's errors for this socket go, when the caller listens for them. */
type BindOptions = UdpBindOptions & { error?(error: Error): void };

const MAX_IN_FLIGHT = 1024;

const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));

export const bindUdp: SocketRuntime["bindUdp"] = (options: BindOptions): Promise<UdpSocket> =>
  typeof Deno.listenDatagram === "function" ? bindNative(options) : bindNodeDgram(options);

interface NetAddr {
  hostname: string;
  port: number;
}

// deno-lint-ignore require-await
async function bindNative(options: BindOptions): Promise<UdpSocket> {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: options.hostname, port: options.port });
  const local = conn.addr as NetAddr;
  let closed = false;
  let inFlight = 0;
  void (async () => {
    while (!closed) {
      let received: [Uint8Array, NetAddr];
      try {
        received = await conn.receive();
      } catch (error) {
        if (closed || (error as Error)?.name === "BadResource" || (error as Error)?.name === "Interrupted") return;
        options.error?.(asError(error));
        // A socket that keeps failing must not spin: breathe before the next receive.
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      const [data, from] = received;
      options.receive({ data, address: from.hostname, port: from.port } satisfies Datagram);
    }
  })();
  return {
    hostname: local.hostname,
    port: local.port,
    send(data, address, port) {
      if (closed || inFlight >= MAX_IN_FLIGHT) return false;
      inFlight++;
      conn.send(data, { transport: "udp", hostname: address, port }).then(
        () => inFlight--,
        (error: unknown) => {
          inFlight--;
          if (!closed) options.error?.(asError(error));
        },
      );
      return true;
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

async function bindNodeDgram(options: BindOptions): Promise<UdpSocket> {
  const dgram = await import("node:dgram");
  const { isIP } = await import("node:net");
  const socket = dgram.createSocket({ type: isIP(options.hostname) === 6 ? "udp6" : "udp4" });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(options.port, options.hostname, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  let closed = false;
  let inFlight = 0;
  socket.on("error", (error) => {
    if (!closed) options.error?.(error);
  });
  socket.on("message", (message, from) => {
    options.receive({ data: new Uint8Array(message.buffer, message.byteOffset, message.byteLength), address: from.address, port: from.port });
  });
  const local = socket.address();
  return {
    hostname: local.address,
    port: local.port,
    send(data, address, port) {
      if (closed || inFlight >= MAX_IN_FLIGHT) return false;
      inFlight++;
      try {
        socket.send(data, port, address, (error) => {
          inFlight--;
          if (error && !closed) options.error?.(error);
        });
      } catch (error) {
        inFlight--;
        options.error?.(asError(error));
        return false;
      }
      return true;
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
