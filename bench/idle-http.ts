// Many keep-alive HTTP clients held open through a proxy: each connects, sends one `GET` and reads the
// whole answer (so the proxy has parsed a request, gone upstream and answered on that connection), then
// stays open and silent until close(). What a proxy holds per such client is its per-connection memory.
import { holdIdleConnections, type IdleConnections, type IdleExchange } from "./idle-connections.ts";

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

/** One GET of `path` answered 200, whole, and nothing after it. */
function getExchange(port: number, path: string): IdleExchange {
  const quote = (got: string) => JSON.stringify(got.slice(0, 120));
  return {
    request: `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
    verdict(got) {
      const response = completeResponse(got);
      if (!response) return undefined;
      if (response.status !== 200) return { error: `answer ${quote(got)}` };
      if (response.length !== got.length) return { error: `more than one answer: ${quote(got)}` };
      return "ok";
    },
    awaited: "complete answer",
    quote,
  };
}

export function openIdleClients(port: number, path: string, count: number, options: IdleClientOptions = {}): Promise<IdleConnections> {
  const { concurrency = 50, timeoutMs } = options;
  // Closed with a reset, which leaves no TIME_WAIT socket behind: a thousand of them would skew the
  // TIME_WAIT counts of the throughput runs that follow.
  return holdIdleConnections(port, count, getExchange(port, path), { concurrency, timeoutMs, reset: true });
}
