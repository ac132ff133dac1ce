// A chunked answer relayed to an HTTP/1.1 client keeps the server's own chunks: the raw framing is handed on
// (once the decoder has checked it), except the last chunk and its trailers, which the gateway writes anew with
// only end-to-end trailer fields. Whatever the reads' boundaries, the client must get exactly that.
import { describe, expect, test } from "bun:test";
import { UpstreamCall, type ResponseSink } from "../gateway/http/upstream-call.ts";
import { IdleList, UpstreamConnection, UpstreamPool } from "../gateway/http/upstream-pool.ts";
import { lastChunk } from "../gateway/http/chunked.ts";
import { endToEndTrailers } from "../gateway/proxy/header-rules.ts";
import type { HeaderFields } from "../gateway/http/head.ts";
import type { SocketRuntime, TcpSocket } from "../gateway/runtime/sockets.ts";

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

const HEAD = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

const quietSocket: TcpSocket = {
  remoteAddress: "127.0.0.1",
  remotePort: 1,
  localAddress: "127.0.0.1",
  localPort: 2,
  write: () => true,
  shutdown() {},
  end() {},
  destroy() {},
  pause() {},
  resume() {},
};

/** Feed `wire` to a call in the pieces `cuts` makes; returns what the client would get (as the exchange writes it). */
function relay(wire: string, cuts: number[]): { out: string; trailers: HeaderFields | undefined } {
  const connection = new UpstreamConnection(new IdleList());
  connection.socket = quietSocket;
  let out = "";
  let trailers: HeaderFields | undefined;
  let ended = false;
  let call!: UpstreamCall;
  const sink: ResponseSink = {
    informational() {},
    responseHead() {
      call.passFraming = true;
    },
    responseBody(bytes, start, end) {
      out += decode(bytes.subarray(start, end));
      return true;
    },
    responseEnd(t) {
      trailers = t;
      ended = true;
    },
    responseFlush() {},
    upstreamFailed(failure) {
      throw failure;
    },
  };
  call = new UpstreamCall(new UpstreamPool({} as SocketRuntime), connection, false, "GET", sink, "s", 60_000);
  call.requestSent();
  const bytes = encode(wire);
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    // Each read is its own buffer, as the runtime hands them over.
    if (cut > at) connection.data(bytes.slice(at, cut));
    at = cut;
  }
  expect(ended).toBe(true);
  return { out, trailers };
}

const cases: Array<[string, string, string]> = [
  ["plain chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"],
  ["extensions and upper-case hex kept", "A;name=value\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n", "A;name=value\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n"],
  ["trailers: end-to-end kept, framing dropped", "3\r\nabc\r\n0\r\nX-Sum: 42\r\nContent-Length: 3\r\n\r\n", "3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n"],
  ["a body with no data", "0\r\n\r\n", "0\r\n\r\n"],
  ["the last chunk with an extension", "2\r\nhi\r\n0;end=yes\r\n\r\n", "2\r\nhi\r\n0\r\n\r\n"],
];

describe("a chunked answer passed on with the server's framing", () => {
  for (const [name, body, expected] of cases) {
    test(`${name}: the same at every single split and at every pair of splits`, () => {
      const wire = HEAD + body;
      const start = HEAD.length;
      for (let a = start; a <= wire.length; a++) {
        for (let b = a; b <= wire.length; b += 3) {
          const { out, trailers } = relay(wire, [start, a, b]);
          // What the exchange writes after the passed bytes: the last chunk with the end-to-end trailers.
          expect(out + decode(lastChunk(trailers && endToEndTrailers(trailers)))).toBe(expected);
        }
      }
    });
  }
});
