// Many keep-alive HTTP clients held open through a proxy: each connects, sends one `GET` and reads the
// whole answer (so the proxy has parsed a request, gone upstream and answered on that connection), then
// stays open and silent until close(). What a proxy holds per such client is its per-connection memory.
import { connect, type Socket } from "node:net";

export interface IdleClients {
  /** Clients that got their answer and are still open. */
  readonly held: number;
  /** Clients that failed to connect or to get a 200 with its whole body. */
  failed: number;
  firstError: string | undefined;
  /** Held clients the proxy closed while they were held. */
  droppedWhileHeld: number;
  /** Milliseconds opening them all took. */
  openMs: number;
  close(): Promise<void>;
}

export interface IdleClientOptions {
  /** Clients connecting and waiting for their answer at once (a ramp, not a burst of `count` requests). */
  concurrency?: number;
  timeoutMs?: number;
}

/** The length and status of the first complete HTTP/1.1 response in `text` (latin1), or null while it is not
 *  all there. A body without Content-Length or chunking runs to the end of the connection, which a
 *  keep-alive client never sees: such an answer stays incomplete and the client fails on close or timeout. */
function completeResponse(text: string): { length: number; status: number } | null {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd < 0) return null;
  const head = text.slice(0, headEnd);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  const bodyStart = headEnd + 4;
  const length = /^content-length:\s*(\d+)\s*$/im.exec(head);
  if (length) return text.length >= bodyStart + Number(length[1]) ? { length: bodyStart + Number(length[1]), status } : null;
  if (/^transfer-encoding:.*chunked/im.test(head)) {
    const end = text.indexOf("\r\n0\r\n\r\n", bodyStart - 2);
    return end >= 0 ? { length: end + 7, status } : null;
  }
  return null;
}

export async function openIdleClients(port: number, path: string, count: number, options: IdleClientOptions = {}): Promise<IdleClients> {
  const { concurrency = 50, timeoutMs = 15_000 } = options;
  const sockets = new Set<Socket>();
  let closing = false;
  const set: IdleClients = {
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
        // A reset leaves no TIME_WAIT socket behind: a thousand of them would skew the TIME_WAIT counts
        // of the throughput runs that follow.
        s.resetAndDestroy();
      }));
      await Promise.all(closed);
      sockets.clear();
    },
  };

  const openOne = () => new Promise<void>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
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
    const timer = setTimeout(() => finish(`no complete answer within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      got += chunk.toString("latin1");
      const response = completeResponse(got);
      if (!response) return;
      if (response.status !== 200) finish(`answer ${JSON.stringify(got.slice(0, 120))}`);
      else if (response.length !== got.length) finish(`more than one answer: ${JSON.stringify(got.slice(0, 120))}`);
      else finish();
    };
    socket.on("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    socket.on("data", onData);
    // Stays attached: an error on a held connection shows up as a drop (its close event).
    socket.on("error", (error) => finish(error.message));
    socket.once("close", () => finish(`closed after ${JSON.stringify(got.slice(0, 120))}`));
  });

  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  set.openMs = performance.now() - started;
  return set;
}
