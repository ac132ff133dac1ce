// Many idle client connections held open through a proxy to redis: each sends PING and waits for +PONG,
// so that the connection is established all the way through (the proxy's upstream connection included),
// then stays open and silent until close().
import { connect, type Socket } from "node:net";

export interface IdleSet {
  /** Connections that got +PONG and are still open. */
  readonly held: number;
  /** Connections that failed to open or to answer. */
  failed: number;
  firstError: string | undefined;
  /** Held connections that the other side closed while they were held. */
  droppedWhileHeld: number;
  /** Milliseconds opening them all took. */
  openMs: number;
  close(): Promise<void>;
}

export interface IdleOptions {
  /** Connection attempts in flight at once. */
  concurrency?: number;
  /** Source addresses to spread the connections over (127.0.0.2, …); none: the OS picks 127.0.0.1. */
  localAddresses?: string[];
  timeoutMs?: number;
}

export async function openIdle(port: number, count: number, options: IdleOptions = {}): Promise<IdleSet> {
  const { concurrency = 200, localAddresses = [], timeoutMs = 15_000 } = options;
  const sockets = new Set<Socket>();
  let closing = false;
  const set: IdleSet = {
    get held() {
      return sockets.size;
    },
    failed: 0,
    firstError: undefined,
    droppedWhileHeld: 0,
    openMs: 0,
    close: async () => {
      closing = true;
      const closed = [...sockets].map((s) => new Promise<void>((resolve) => {
        if (s.destroyed) return resolve();
        s.once("close", () => resolve());
        s.destroy();
      }));
      await Promise.all(closed);
      sockets.clear();
    },
  };

  const openOne = (i: number) => new Promise<void>((resolve) => {
    const localAddress = localAddresses.length > 0 ? localAddresses[i % localAddresses.length] : undefined;
    const socket = connect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}) });
    let got = "";
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeListener("data", onData);
      if (error) {
        set.failed++;
        set.firstError ??= error;
        socket.destroy();
      } else {
        sockets.add(socket);
        socket.once("close", () => {
          if (!closing) set.droppedWhileHeld++;
          sockets.delete(socket);
        });
      }
      resolve();
    };
    const timer = setTimeout(() => finish(`no +PONG within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      got += chunk.toString("latin1");
      if (got === "+PONG\r\n") finish();
      else if (got.includes("\r\n")) finish(`unexpected answer ${JSON.stringify(got)}`);
    };
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", onData);
    // Stays attached: an error on a held connection shows up as a drop (its close event).
    socket.on("error", (error) => finish(error.message));
    socket.once("close", () => finish(`closed after ${JSON.stringify(got)}`));
  });

  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) await openOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  set.openMs = performance.now() - started;
  return set;
}
