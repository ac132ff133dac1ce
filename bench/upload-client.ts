// One large upload of the streaming benchmark, from inside the harness (on the load core when pinned):
// `PUT /upload` with a Content-Length on a raw socket, the body written from one buffer of zeros as fast as
// the connection takes it, then the upstream's answer (the bytes it counted) read to the end. Not curl:
// curl reads its upload from a file and copies it twice (file to buffer, buffer to socket); on a 2-core
// machine, where the client and the upstream share one core and the proxy has the other, that extra copy
// made the load side as slow as the proxies, so "direct" no longer showed what the proxies cost.
// Runs under Bun (Bun.connect).
import { maxTransferSeconds, type TransferResult } from "./download-client.ts";

/** Bytes handed to one write: the socket takes what fits and the rest waits for its drain. */
const BUFFER = new Uint8Array(1024 * 1024);

interface Answer {
  status: number;
  body: string;
}

/** Status and body of a complete HTTP/1.1 answer in `text` (Content-Length or chunked), or null if incomplete. */
function parseAnswer(text: string, closed: boolean): Answer | null {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = text.slice(0, end);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? NaN);
  const rest = text.slice(end + 4);
  const length = /^content-length:\s*(\d+)\s*$/im.exec(head);
  if (length) return rest.length >= Number(length[1]) ? { status, body: rest.slice(0, Number(length[1])) } : null;
  if (/^transfer-encoding:.*chunked/im.test(head)) {
    let body = "";
    let at = 0;
    for (;;) {
      const line = rest.indexOf("\r\n", at);
      if (line < 0) return null;
      const size = parseInt(rest.slice(at, line), 16);
      if (size === 0) return { status, body };
      if (rest.length < line + 2 + size + 2) return null;
      body += rest.slice(line + 2, line + 2 + size);
      at = line + 2 + size + 2;
    }
  }
  return closed ? { status, body: rest } : null;
}

/** Upload `bytes` zeros to 127.0.0.1:port/upload; the upstream must answer 200 with that count. */
export function runUpload(port: number, bytes: number): Promise<TransferResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let sent = 0;
    let received = "";
    let settled = false;
    let socket: { end(): void; terminate(): void } | undefined;
    const finish = (error: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) socket?.terminate();
      else socket?.end();
      const seconds = (performance.now() - started) / 1000;
      resolve({ bytes: error ? 0 : bytes, seconds, bytesPerSec: error ? NaN : bytes / seconds, error });
    };
    const timer = setTimeout(() => finish(`not done within ${maxTransferSeconds(bytes)} s`), maxTransferSeconds(bytes) * 1000);
    const check = (closed: boolean) => {
      const answer = parseAnswer(received, closed);
      if (!answer) return closed ? finish(`the connection closed after ${sent} bytes sent, with ${JSON.stringify(received.slice(0, 200))}`) : undefined;
      if (answer.status !== 200) return finish(`status ${answer.status} after ${sent} bytes sent`);
      const counted = Number(answer.body.trim());
      finish(sent === bytes && counted === bytes ? undefined : `sent ${sent} bytes, the upstream counted ${answer.body.trim()}, not ${bytes}`);
    };
    // Every byte is zero, so whatever part of BUFFER a write takes, the next one may start at its beginning.
    const pump = (s: { write(data: Uint8Array): number }) => {
      while (sent < bytes && !settled) {
        const n = Math.min(BUFFER.length, bytes - sent);
        const written = s.write(n === BUFFER.length ? BUFFER : BUFFER.subarray(0, n));
        sent += Math.max(0, written);
        if (written < n) return; // full: drain() calls again
      }
    };
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          socket = s;
          const head = `PUT /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bytes}\r\nConnection: close\r\n\r\n`;
          if (s.write(head) !== head.length) return finish("the request head did not fit in one write");
          pump(s);
        },
        drain(s) {
          pump(s);
        },
        data(_s, chunk) {
          received += Buffer.from(chunk).toString("latin1");
          check(false);
        },
        end() {
          check(true);
        },
        close() {
          check(true);
        },
        error(_s, error) {
          finish(`socket error after ${sent} bytes sent: ${error.message}`);
        },
        connectError(_s, error) {
          finish(`connect failed: ${error.message}`);
        },
      },
    }).catch((error: Error) => finish(`connect failed: ${error.message}`));
  });
}
