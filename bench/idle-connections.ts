// Many client connections held open through a proxy, for the memory a proxy spends per connection. Each
// connection first has one exchange through the proxy (an HTTP GET and its whole answer, or redis' PING and
// +PONG), so that the proxy has set up everything it keeps for a connection, its upstream side included;
// then it stays open and silent until close(). The exchanges are in idle-http.ts and l4-idle.ts.
import { connect, type Socket } from "node:net";

export interface IdleConnections {
  /** Connections that completed their exchange and are still open. */
  readonly held: number;
  /** Connections that failed to open or to complete their exchange. */
  failed: number;
  firstError: string | undefined;
  /** Held connections the other side closed while they were held. */
  droppedWhileHeld: number;
  /** Milliseconds opening them all took. */
  openMs: number;
  close(): Promise<void>;
}

/** What a connection sends once connected, and how it judges what came back. */
export interface IdleExchange {
  request: string;
  /** Everything received so far (latin1): undefined while the answer is not all there, "ok" once it is
   *  there and right, else why the connection does not count. */
  verdict(got: string): "ok" | { error: string } | undefined;
  /** What the timeout message says did not come: `no ${awaited} within … ms`. */
  awaited: string;
  /** The received bytes as an error message quotes them. */
  quote(got: string): string;
}

export interface IdleConnectionOptions {
  /** Connections opening and waiting for their answer at once (a ramp, not a burst of `count`). */
  concurrency: number;
  /** Source addresses to spread the connections over (127.0.0.2, …); none: the OS picks 127.0.0.1. */
  localAddresses?: string[];
  timeoutMs?: number;
  /** close() ends the connections with a reset rather than the ordinary FIN. */
  reset: boolean;
}

export async function holdIdleConnections(port: number, count: number, exchange: IdleExchange, options: IdleConnectionOptions): Promise<IdleConnections> {
  const { concurrency, localAddresses = [], timeoutMs = 15_000, reset } = options;
  const sockets = new Set<Socket>();
  let closing = false;
  const set: IdleConnections = {
    get held() {
      return sockets.size;
    },
    failed: 0,
    firstError: undefined,
    droppedWhileHeld: 0,
    openMs: 0,
    close: async () => {
      closing = true;
      const closed = [...sockets].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed) return resolve();
            s.once("close", () => resolve());
            if (reset) s.resetAndDestroy();
            else s.destroy();
          }),
      );
      await Promise.all(closed);
      sockets.clear();
    },
  };

  const openOne = (i: number) =>
    new Promise<void>((resolve) => {
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
      const timer = setTimeout(() => finish(`no ${exchange.awaited} within ${timeoutMs} ms`), timeoutMs);
      const onData = (chunk: Buffer) => {
        got += chunk.toString("latin1");
        const verdict = exchange.verdict(got);
        if (verdict === "ok") finish();
        else if (verdict) finish(verdict.error);
      };
      socket.on("connect", () => socket.write(exchange.request));
      socket.on("data", onData);
      // Stays attached: an error on a held connection shows up as a drop (its close event).
      socket.on("error", (error) => finish(error.message));
      socket.once("close", () => finish(`closed after ${exchange.quote(got)}`));
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
