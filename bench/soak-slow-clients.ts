// The soak run's slow clients, over raw sockets from this process: readers that download 1 MiB answers at
// about 128 KiB/s (the gateway must hold back the backend, not buffer the answer), and senders that send
// their request head a line every 250 ms (slow, but inside the header timeout). Each loops until stopped, and
// tallies how its requests ended: a backend restart can cut a download that was under way, which is expected.
import { connect, type Socket } from "node:net";

export interface SlowTally {
  downloads: number;
  /** Downloads answered 200 but cut before their last byte (a backend killed mid-answer, or a gateway timeout). */
  downloadsCut: number;
  /** Downloads answered with another status, or not at all. */
  downloadsRefused: number;
  heads: number;
  /** Slow heads answered with something else than 200, or not at all. */
  headsFailed: number;
}

const READ_BYTES_PER_SECOND = 128 * 1024;
const HEAD_LINE_GAP_MS = 250;

export interface SlowClients {
  readonly tally: SlowTally;
  stop(): Promise<void>;
}

export function startSlowClients(port: number, largePath: string, largeBytes: number, readers: number, senders: number): SlowClients {
  const tally: SlowTally = { downloads: 0, downloadsCut: 0, downloadsRefused: 0, heads: 0, headsFailed: 0 };
  let stopping = false;
  const open = new Set<Socket>();
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const reader = async () => {
    while (!stopping) {
      const got = await exchange(port, [`GET ${largePath} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n`], open, READ_BYTES_PER_SECOND);
      if (stopping) break;
      tally.downloads++;
      // The body ends exactly at its Content-Length: less is a cut.
      if (got.status !== 200) tally.downloadsRefused++;
      else if (got.bodyBytes < largeBytes) tally.downloadsCut++;
      await pause(100);
    }
  };
  const sender = async () => {
    const lines = [
      "GET / HTTP/1.1\r\n",
      "Host: soak\r\n",
      "User-Agent: soak-slow-sender\r\n",
      "Accept: */*\r\n",
      "X-Slow: 1\r\n",
      "Connection: close\r\n",
      "\r\n",
    ];
    while (!stopping) {
      const got = await exchange(port, lines, open, undefined, HEAD_LINE_GAP_MS);
      if (stopping) break;
      tally.heads++;
      if (got.status !== 200) tally.headsFailed++;
      await pause(100);
    }
  };
  const running = Promise.all([...Array.from({ length: readers }, reader), ...Array.from({ length: senders }, sender)]);
  return {
    tally,
    async stop() {
      stopping = true;
      for (const socket of open) socket.destroy();
      await running;
    },
  };
}

/**
 * One request on a new connection: `parts` written `gapMs` apart, the answer read until the server closes
 * (every request says Connection: close), at most `bytesPerSecond` when given. What came back: the status and
 * how many bytes followed the head.
 */
function exchange(port: number, parts: string[], open: Set<Socket>, bytesPerSecond?: number, gapMs = 0): Promise<{ status: number; bodyBytes: number }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    open.add(socket);
    let received = 0;
    let head = "";
    let headEnd = -1;
    const startedAt = Date.now();
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (headEnd < 0) {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end >= 0) headEnd = end + 4;
      }
      if (bytesPerSecond) {
        // Ahead of the pace: stop reading until the pace catches up (the kernel's buffers fill, then the gateway's
        // writes wait).
        const due = (received / bytesPerSecond) * 1000 - (Date.now() - startedAt);
        if (due > 0) {
          socket.pause();
          setTimeout(() => socket.resume(), due);
        }
      }
    });
    const done = () => {
      open.delete(socket);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, bodyBytes: headEnd < 0 ? 0 : received - headEnd });
    };
    socket.on("close", done);
    socket.on("error", () => {});
    socket.on("connect", async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}
