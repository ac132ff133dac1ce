// The backend's connection counter: nginx `stub_status` on a listener of its own, read over a fresh
// connection each time. "accepts" counts every connection the backend has accepted on any listener, so
// the difference across one wrk run is the upstream connections the target opened during it (targets
// run one after another), plus exactly one: the connection of the second reading itself, which is
// accepted before its answer is written. `connectionsOpened` takes that one off.
import { connect } from "node:net";

export const STATUS_PATH = "/nginx-status";

/** The backend's "accepts" counter now. */
export function backendAccepts(statusPort: number, timeoutMs = 5_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: statusPort });
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`backend status: no answer on port ${statusPort} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("latin1");
    // HTTP/1.0 without keep-alive: nginx closes after the answer, so the end of the stream is the end of it.
    socket.on("connect", () => socket.write(`GET ${STATUS_PATH} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`));
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      // "server accepts handled requests\n 16630948 16630948 31070465"
      const m = /server accepts handled requests\s+(\d+)\s+\d+\s+\d+/.exec(text);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`backend status: unexpected answer ${JSON.stringify(text.slice(0, 200))}`));
    });
  });
}

/** Connections the backend accepted between two readings, the second reading's own connection excluded. */
export function connectionsOpened(before: number, after: number): number {
  return after - before - 1;
}
