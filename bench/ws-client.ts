// The WebSocket load of the streaming benchmark, run inside the harness (on the load core when pinned):
// connections opened first, then for a fixed time each keeps `window` binary messages in flight against
// the echo upstream: one for round trips, many for the pipelined variant. Every echo is checked for its
// size and timed from its send (echoes come back in order per connection). Nothing waits without a bound.

export interface WsLoad {
  /** Connections that opened (the rest failed to). */
  open: number;
  /** Send for `seconds`, then wait for the messages still in flight. */
  run(seconds: number, window: number): Promise<WsResult>;
  close(): Promise<void>;
}

export interface WsResult {
  /** Echoes received, each one a message that went client → upstream → client. */
  messages: number;
  /** From the first send to the last echo. */
  seconds: number;
  perSec: number;
  p50ms: number;
  p99ms: number;
  /** Echoes of the wrong size, messages never echoed, connections that failed or closed during the run. */
  errors: number;
  firstError: string | undefined;
}

/** Round-trip times kept per run for the percentiles (8 bytes each); later ones are counted, not kept. */
const MAX_SAMPLES = 4_000_000;
const OPEN_TIMEOUT_MS = 10_000;
/** After the sending time: how long the messages still in flight may take to come back. */
const DRAIN_TIMEOUT_MS = 5_000;
const CLOSE_TIMEOUT_MS = 2_000;

const opened = new Set<WsLoad>();
/** One buffer for every run's samples: runs never overlap. */
let samples: Float64Array | undefined;

/** Close every load still open (on an interrupt). */
export async function closeAllWsLoads(): Promise<void> {
  await Promise.all([...opened].map((load) => load.close().catch(() => {})));
}

function openOne(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`no open within ${OPEN_TIMEOUT_MS} ms`));
    }, OPEN_TIMEOUT_MS);
    ws.onopen = () => {
      clearTimeout(timer);
      resolve(ws);
    };
    ws.onerror = () => {
      clearTimeout(timer);
      reject(new Error("connection failed"));
    };
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Open `connections` WebSockets to `url`; throws if none opens. */
export async function openWsLoad(url: string, connections: number, messageBytes: number): Promise<WsLoad> {
  const settled = await Promise.allSettled(Array.from({ length: connections }, () => openOne(url)));
  const sockets = settled.filter((s) => s.status === "fulfilled").map((s) => s.value);
  const failures = settled.filter((s) => s.status === "rejected");
  if (sockets.length === 0) throw new Error(`${url}: no WebSocket opened (${(failures[0]?.reason as Error)?.message})`);
  const message = new Uint8Array(messageBytes).fill(0x78);
  const rtts = (samples ??= new Float64Array(MAX_SAMPLES));

  const load: WsLoad = {
    open: sockets.length,
    run(seconds, window) {
      return new Promise<WsResult>((resolve) => {
        let messages = 0;
        let kept = 0;
        let errors = failures.length;
        let firstError = failures.length > 0 ? `${failures.length} connections did not open: ${(failures[0]!.reason as Error).message}` : undefined;
        let lastEcho = 0;
        let active = sockets.length;
        let inFlight = 0;
        const fail = (what: string) => {
          errors++;
          firstError ??= what;
        };
        const start = performance.now();
        const sendUntil = start + seconds * 1000;
        const finish = () => {
          clearTimeout(deadline);
          for (const ws of sockets) ws.onmessage = ws.onclose = ws.onerror = null;
          const sorted = rtts.slice(0, kept).sort();
          const elapsed = ((lastEcho || performance.now()) - start) / 1000;
          resolve({
            messages,
            seconds: elapsed,
            perSec: messages / elapsed,
            p50ms: percentile(sorted, 0.5),
            p99ms: percentile(sorted, 0.99),
            errors,
            firstError,
          });
        };
        const deadline = setTimeout(
          () => {
            // Every message not echoed by now counts as an error.
            errors += inFlight;
            firstError ??= `${inFlight} messages not echoed ${DRAIN_TIMEOUT_MS} ms after the run`;
            finish();
          },
          seconds * 1000 + DRAIN_TIMEOUT_MS,
        );
        for (const ws of sockets) {
          // Send times of the messages in flight, oldest first: echoes come back in the order sent.
          const sentAt: number[] = [];
          let head = 0;
          let done = false;
          const stop = () => {
            if (done) return;
            done = true;
            if (--active === 0) finish();
          };
          const send = (now: number) => {
            sentAt.push(now);
            inFlight++;
            ws.send(message);
          };
          ws.onmessage = (event) => {
            const now = performance.now();
            const size = (event.data as ArrayBuffer).byteLength;
            if (size !== messageBytes) fail(`an echo of ${size} bytes, not ${messageBytes}`);
            const rtt = now - sentAt[head++]!;
            if (kept < MAX_SAMPLES) rtts[kept++] = rtt;
            messages++;
            inFlight--;
            lastEcho = now;
            // Keep the queue short without shifting on every message.
            if (head > 1024) {
              sentAt.splice(0, head);
              head = 0;
            }
            if (now < sendUntil) send(now);
            else if (head === sentAt.length) stop();
          };
          ws.onclose = () => {
            if (!done) {
              // The messages it had in flight are lost: each one is an error, and the close another.
              const lost = sentAt.length - head;
              inFlight -= lost;
              errors += lost;
              fail(`a connection closed during the run with ${lost} messages in flight`);
            }
            stop();
          };
          ws.onerror = () => fail("a connection failed during the run");
          for (let i = 0; i < window; i++) send(performance.now());
        }
      });
    },
    async close() {
      opened.delete(load);
      await Promise.all(
        sockets.map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
              ws.onclose = () => {
                clearTimeout(timer);
                resolve();
              };
              ws.close();
            }),
        ),
      );
    },
  };
  opened.add(load);
  return load;
}
