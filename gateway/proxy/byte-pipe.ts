// After a 101 Switching Protocols the client and upstream connections become one byte pipe: whatever protocol
// was switched to (WebSocket frames, close codes, ping/pong, anything else) passes untouched, with backpressure
// both ways and half-close carried across, until both directions have ended.
import type { TcpHandlers, TcpSocket } from "../runtime/sockets.ts";

export interface PipeEnds {
  client: TcpSocket;
  upstream: TcpSocket;
  /** Bytes the client sent after its request head, and the upstream after its 101 head. */
  clientFirst: Uint8Array;
  upstreamFirst: Uint8Array;
  /** Called once when both connections are closed. */
  closed(): void;
}

/** One direction of the pipe: reads from `from`, writes to `to`. */
class Direction {
  ended = false;
  constructor(
    private readonly from: TcpSocket,
    private readonly to: TcpSocket,
  ) {}

  data(chunk: Uint8Array): void {
    if (!this.to.write(chunk)) this.from.pause();
  }
  /** `to` took everything: read again. */
  drained(): void {
    this.from.resume();
  }
  end(): void {
    this.ended = true;
    this.to.shutdown();
  }
}

/** Join the two connections. Returns the handlers for each side's events. */
export function pipeBytes(ends: PipeEnds): { client: TcpHandlers; upstream: TcpHandlers } {
  const up = new Direction(ends.client, ends.upstream);
  const down = new Direction(ends.upstream, ends.client);
  let open = 2;
  let done = false;
  const closeOne = (other: TcpSocket) => {
    // One side gone (reset, error, or both directions ended): the other has nothing left to say to it.
    other.end();
    if (--open <= 0 && !done) {
      done = true;
      ends.closed();
    }
  };
  const client: TcpHandlers = {
    data: (chunk) => up.data(chunk),
    drain: () => down.drained(),
    end: () => up.end(),
    close: () => closeOne(ends.upstream),
  };
  const upstream: TcpHandlers = {
    data: (chunk) => down.data(chunk),
    drain: () => up.drained(),
    end: () => down.end(),
    close: () => closeOne(ends.client),
  };
  if (ends.clientFirst.length > 0) up.data(ends.clientFirst);
  if (ends.upstreamFirst.length > 0) down.data(ends.upstreamFirst);
  return { client, upstream };
}
