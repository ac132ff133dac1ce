// Reads that arrive while an earlier read is still being handled. A write to one socket can run that socket's
// drain at once, the drain resumes the other socket, and the runtime may deliver that socket's next read right
// there, inside the handler of the previous one. Both ends of the engine must then finish the earlier read
// first: a chunked decoder re-entered mid-step, or pipelined bytes taken out of turn, corrupt the stream (a
// 256 MiB chunked download through the gateway did exactly that before these guards).
import { describe, expect, test } from "bun:test";
import { UpstreamCall, type ResponseSink } from "../gateway/http/upstream-call.ts";
import { IdleList, UpstreamConnection, UpstreamPool } from "../gateway/http/upstream-pool.ts";
import { DownstreamConnection, type BodySink } from "../gateway/http/downstream.ts";
import { Deadlines } from "../gateway/http/deadlines.ts";
import type { ResponseHead } from "../gateway/http/head.ts";
import type { SocketRuntime, TcpSocket } from "../gateway/runtime/sockets.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (chunks: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(chunks));

/** A socket that records what is written and does nothing else. */
function quietSocket(): TcpSocket & { written: Uint8Array[] } {
  const written: Uint8Array[] = [];
  return {
    written,
    remoteAddress: "127.0.0.1",
    remotePort: 1,
    localAddress: "127.0.0.1",
    localPort: 2,
    write(chunk: Uint8Array, length = chunk.length) {
      written.push(chunk.slice(0, length));
      return true;
    },
    shutdown() {},
    end() {},
    destroy() {},
    pause() {},
    resume() {},
  };
}

describe("an upstream read arriving inside the handling of the previous one", () => {
  test("a chunked answer decodes in order, whatever is delivered while a chunk is being handed on", () => {
    const pool = new UpstreamPool({} as SocketRuntime);
    const connection = new UpstreamConnection(new IdleList());
    connection.socket = quietSocket();
    const body: string[] = [];
    let ended = false;
    // The rest of the answer, split so that the second read starts in the middle of a chunk.
    const later = [text("lo\r\n6\r\n wor"), text("ld\r\n0\r\n\r\n")];
    const sink: ResponseSink = {
      informational() {},
      responseHead(_head: ResponseHead) {},
      responseBody(bytes, start, end) {
        body.push(new TextDecoder().decode(bytes.subarray(start, end)));
        // The runtime delivers the next read right now, as a drain → resume → read chain would.
        const next = later.shift();
        if (next) connection.data(next);
        return true;
      },
      responseEnd() {
        ended = true;
      },
      responseFlush() {},
      upstreamFailed(failure) {
        throw failure;
      },
    };
    const call = new UpstreamCall(pool, connection, false, "GET", sink, "s", 60_000);
    call.requestSent();
    connection.data(text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"));
    expect(body.join("")).toBe("hello world");
    expect(ended).toBe(true);
  });
});

describe("a client read arriving inside the handling of the previous one", () => {
  test("a body and the pipelined request after it are taken in the order they came", () => {
    const deadlines = new Deadlines();
    const socket = quietSocket();
    const seen: string[] = [];
    let connection!: DownstreamConnection;
    const later = [text("45"), text("6789GET /second HTTP/1.1\r\nHost: x\r\n\r\n")];
    connection = new DownstreamConnection(socket, {
      limits: { maxUriLength: 8192, maxHeaderSize: 16384, maxHeaderCount: 100 },
      maxBodySize: 1 << 20,
      headerTimeout: 10_000,
      idleTimeout: 60_000,
      deadlines,
      onClose() {},
      onRequest(conn, head) {
        seen.push(`head ${head.pathAndQuery}`);
        conn.attach({ drain() {}, clientGone() {} });
        if (head.contentLength <= 0) {
          conn.finish(true);
          return;
        }
        const sink: BodySink = {
          data(chunk) {
            seen.push(`body ${new TextDecoder().decode(chunk)}`);
            // Delivered now, inside this handler, as a write upstream whose drain resumes the client would.
            const next = later.shift();
            if (next) connection.data(next);
            return true;
          },
          end() {
            seen.push("end");
            conn.finish(false);
          },
          fail(failure) {
            seen.push(`fail ${failure.status}`);
          },
        };
        conn.readBody(sink);
      },
    });
    connection.data(text("POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123"));
    expect(seen.join(" | ")).toBe("head /first | body 0123 | body 45 | body 6789 | end | head /second");
    expect(decode(socket.written)).toBe("");
    deadlines.delete(connection);
  });
});
