// Request smuggling, tried as an attacker would: raw bytes from public research (PortSwigger's HTTP desync
// work, "HTTP Request Smuggling" by Linhart, Klein, Heled and Orrin, the mutation list of the smuggler tool,
// HAProxy and nginx advisories) sent to a real gateway in front of an upstream that keeps every byte it gets
// and reads them strictly. For each case the gateway either refuses (the status named, then it closes), or
// serves exactly the requests meant and nothing else; then a victim on a second connection must get its own
// answer, and the upstream must have read nothing smuggled and nothing malformed. Every case runs twice: on the
// byte path, and on a route whose plugins see Request objects (the hono path).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { until } from "../helpers/common.ts";
import { startEngineGateway, type EngineGateway } from "../helpers/engine-gateway.ts";
import { openWire, type WireResponse } from "../helpers/wire.ts";
import { recordingUpstream, type RecordedRequest, type RecordingUpstream } from "../helpers/recording-upstream.ts";
import type { Socket } from "node:net";
import { resolve } from "node:path";

/** A plugin that works on Request and Response objects: its routes go through hono. */
const OBJECT_HEADERS = resolve(import.meta.dir, "../fixtures/plugins/object-headers.ts");

/** A request the upstream must read, and the client must be answered for (in this order). */
interface Served {
  method?: string;
  /** After the case's path prefix. */
  path: string;
  body?: string;
}

type Outcome =
  /** The first answer has this status and the gateway closes; nothing of the case reaches the upstream whole. */
  | { refuse: number }
  /** These requests reach the upstream and are answered in order; then, optionally, a refusal. */
  | { serve: Served[]; thenRefuse?: number };

interface AttackCase {
  name: string;
  /** The bytes, for the path prefix `p` (each case and path gets its own, so the upstream's log tells them apart). */
  send: (p: string) => string;
  outcome: Outcome;
  /** When the hono path answers otherwise (a Request cannot be built for every request the byte path can carry). */
  viaHono?: Outcome;
  /** More to check on what the upstream read of this case. */
  upstream?: (requests: RecordedRequest[]) => void;
}

const H = "Host: a.test\r\n";
const SMUGGLED = (p: string) => `GET ${p}/smuggled HTTP/1.1\r\n${H}\r\n`;
const post = (p: string, fields: string, body: string) => `POST ${p}/post HTTP/1.1\r\n${H}${fields}\r\n${body}`;
const get = (p: string, fields = "", path = "/get") => `GET ${p}${path} HTTP/1.1\r\n${H}${fields}\r\n`;
const chunk = (data: string) => `${data.length.toString(16)}\r\n${data}\r\n`;
const BODY = "hello";
const CHUNKED_HELLO = `${chunk(BODY)}0\r\n\r\n`;
/** A chunked body whose data holds a whole request: harmless as data, a smuggled request to a server that reads it as framing. */
const chunkedHiding = (p: string) => `${chunk(SMUGGLED(p))}0\r\n\r\n`;
const fieldsOf = (n: number) => Array.from({ length: n }, (_, i) => `X-F${i}: ${i}\r\n`).join("");

const refuse = (status: number): Outcome => ({ refuse: status });
const POSTED = (body = BODY): Outcome => ({ serve: [{ method: "POST", path: "/post", body }] });
const GOT: Outcome = { serve: [{ path: "/get" }] };

const cases: AttackCase[] = [
  // ---- CL.TE and TE.CL, with every Transfer-Encoding obfuscation ----------------------------------------
  {
    name: "CL.TE: Content-Length then Transfer-Encoding",
    send: (p) => post(p, "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", `0\r\n\r\nG${SMUGGLED(p)}`),
    outcome: refuse(400),
  },
  {
    name: "TE.CL: Transfer-Encoding then Content-Length",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", `${chunk(SMUGGLED(p))}0\r\n\r\n`),
    outcome: refuse(400),
  },
  {
    name: "TE.TE: chunked, then an unknown coding on a second line",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\nContent-Length: 4\r\n", CHUNKED_HELLO),
    outcome: refuse(400),
  },
  {
    name: "`Transfer-Encoding : chunked` (space before the colon)",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding : chunked\r\n", CHUNKED_HELLO),
    outcome: refuse(400),
  },
  {
    name: "`Transfer-Encoding:\\tchunked` alone is valid (tab is OWS) and read as chunked",
    send: (p) => post(p, "Transfer-Encoding:\tchunked\r\n", chunkedHiding(p)),
    outcome: { serve: [{ method: "POST", path: "/post", body: `GET /P/smuggled HTTP/1.1\r\n${H}\r\n` }] },
  },
  {
    name: "`Transfer-Encoding:\\tchunked` with Content-Length",
    send: (p) => post(p, "Content-Length: 3\r\nTransfer-Encoding:\tchunked\r\n", CHUNKED_HELLO),
    outcome: refuse(400),
  },
  {
    name: "`Transfer-Encoding: chunked ` (trailing space) with Content-Length",
    send: (p) => post(p, "Transfer-Encoding: chunked \r\nContent-Length: 3\r\n", CHUNKED_HELLO),
    outcome: refuse(400),
  },
  {
    name: "`Transfer-Encoding: chunked ` (trailing space) alone is chunked",
    send: (p) => post(p, "Transfer-Encoding: chunked \r\n", CHUNKED_HELLO),
    outcome: POSTED(),
  },
  { name: "`Transfer-Encoding: xchunked`", send: (p) => post(p, "Transfer-Encoding: xchunked\r\n", CHUNKED_HELLO), outcome: refuse(400) },
  {
    name: "`Transfer-Encoding: xchunked` with Content-Length",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n", BODY),
    outcome: refuse(400),
  },
  { name: "`Transfer-Encoding: chunked, identity`", send: (p) => post(p, "Transfer-Encoding: chunked, identity\r\n", CHUNKED_HELLO), outcome: refuse(400) },
  {
    name: "`Transfer-Encoding: identity, chunked` (a coding not implemented)",
    send: (p) => post(p, "Transfer-Encoding: identity, chunked\r\n", CHUNKED_HELLO),
    outcome: refuse(501),
  },
  { name: "`Transfer-Encoding: chunked, chunked`", send: (p) => post(p, "Transfer-Encoding: chunked, chunked\r\n", CHUNKED_HELLO), outcome: refuse(400) },
  {
    name: "two `Transfer-Encoding: chunked` lines",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", CHUNKED_HELLO),
    outcome: refuse(400),
  },
  {
    name: "`Transfer-Encoding\t: chunked` (tab before the colon)",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding\t: chunked\r\n", BODY),
    outcome: refuse(400),
  },
  { name: "`Transfer-Encoding: chunk` (a prefix of chunked)", send: (p) => post(p, "Transfer-Encoding: chunk\r\n", CHUNKED_HELLO), outcome: refuse(400) },
  {
    name: "`Transfer-Encoding: chunked` with an obs-text byte after it",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding: chunked\x85\r\n", BODY),
    outcome: refuse(400),
  },
  { name: "mixed-case `Transfer-Encoding: cHuNkEd` is chunked", send: (p) => post(p, "Transfer-Encoding: cHuNkEd\r\n", CHUNKED_HELLO), outcome: POSTED() },
  { name: '`Transfer-Encoding: "chunked"` (quoted)', send: (p) => post(p, 'Transfer-Encoding: "chunked"\r\n', CHUNKED_HELLO), outcome: refuse(400) },
  {
    name: "`Transfer-Encoding: chunked;q=1` (a parameter on chunked)",
    send: (p) => post(p, "Transfer-Encoding: chunked;q=1\r\n", CHUNKED_HELLO),
    outcome: refuse(400),
  },
  {
    name: "Transfer-Encoding with a vertical tab before chunked",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding:\x0bchunked\r\n", BODY),
    outcome: refuse(400),
  },
  {
    name: "Transfer-Encoding with a form feed before chunked",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding:\x0cchunked\r\n", BODY),
    outcome: refuse(400),
  },
  {
    name: "Transfer-Encoding with a NUL after chunked",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding: chunked\x00\r\n", BODY),
    outcome: refuse(400),
  },
  {
    name: "Transfer-Encoding ended by a bare CR, another field after it",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding: chunked\rX-Y: z\r\n", BODY),
    outcome: refuse(400),
  },
  {
    name: "Transfer-Encoding on an obs-fold continuation line",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n", BODY),
    outcome: refuse(400),
  },
  {
    name: "a continuation line that hides Transfer-Encoding inside another field",
    send: (p) => post(p, "Content-Length: 5\r\nX-Pad: a\r\n Transfer-Encoding: chunked\r\n", BODY),
    outcome: refuse(400),
  },
  {
    name: "`Transfer_Encoding: chunked` (underscore) with Content-Length",
    send: (p) => post(p, "Content-Length: 5\r\nTransfer_Encoding: chunked\r\n", BODY),
    outcome: refuse(400),
  },
  { name: "upper-case `TRANSFER-ENCODING: CHUNKED` is chunked", send: (p) => post(p, "TRANSFER-ENCODING: CHUNKED\r\n", CHUNKED_HELLO), outcome: POSTED() },
  {
    name: "lower-case transfer-encoding with content-length",
    send: (p) => post(p, "transfer-encoding: chunked\r\ncontent-length: 0\r\n", CHUNKED_HELLO),
    outcome: refuse(400),
  },
  {
    name: "Transfer-Encoding in an HTTP/1.0 request",
    send: (p) => `POST ${p}/post HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n${CHUNKED_HELLO}`,
    outcome: refuse(400),
  },

  // ---- Content-Length variants ---------------------------------------------------------------------------
  { name: "`Content-Length: +5`", send: (p) => post(p, "Content-Length: +5\r\n", BODY), outcome: refuse(400) },
  { name: "`Content-Length: 05` is 5", send: (p) => post(p, "Content-Length: 05\r\n", BODY), outcome: POSTED() },
  { name: "`Content-Length: 5, 5` is 5", send: (p) => post(p, "Content-Length: 5, 5\r\n", BODY), outcome: POSTED() },
  { name: "two `Content-Length: 5` lines are 5", send: (p) => post(p, "Content-Length: 5\r\nContent-Length: 5\r\n", BODY), outcome: POSTED() },
  { name: "`Content-Length: 5,6`", send: (p) => post(p, "Content-Length: 5,6\r\n", `${BODY}x`), outcome: refuse(400) },
  {
    name: "two differing Content-Length lines",
    send: (p) => post(p, "Content-Length: 5\r\nContent-Length: 44\r\n", `${BODY}${SMUGGLED(p)}`),
    outcome: refuse(400),
  },
  { name: "Content-Length with a space inside", send: (p) => post(p, "Content-Length: 1 0\r\n", "0123456789"), outcome: refuse(400) },
  { name: "Content-Length of 20 digits", send: (p) => post(p, "Content-Length: 99999999999999999999\r\n", BODY), outcome: refuse(400) },
  { name: "Content-Length past Number.MAX_SAFE_INTEGER", send: (p) => post(p, "Content-Length: 9007199254740993\r\n", BODY), outcome: refuse(400) },
  { name: "a huge valid Content-Length is over the body limit", send: (p) => post(p, "Content-Length: 1000000000000000\r\n", BODY), outcome: refuse(413) },
  { name: "negative Content-Length", send: (p) => post(p, "Content-Length: -1\r\n", BODY), outcome: refuse(400) },
  { name: "hexadecimal Content-Length", send: (p) => post(p, "Content-Length: 0x5\r\n", BODY), outcome: refuse(400) },
  { name: "an empty Content-Length", send: (p) => post(p, "Content-Length:\r\n", BODY), outcome: refuse(400) },
  { name: "Content-Length on an obs-fold continuation line", send: (p) => post(p, "Content-Length:\r\n 5\r\n", BODY), outcome: refuse(400) },
  { name: "Content-Length with a vertical tab", send: (p) => post(p, "Content-Length: 5\x0b\r\n", BODY), outcome: refuse(400) },
  {
    name: "`Content_Length` (underscore) hiding a request in its body",
    send: (p) => get(p, `Content_Length: ${SMUGGLED(p).length}\r\n`) + SMUGGLED(p),
    outcome: refuse(400),
  },
  { name: "`Content Length` (space in the name)", send: (p) => post(p, "Content Length: 5\r\n", BODY), outcome: refuse(400) },

  // ---- chunk-size tricks -----------------------------------------------------------------------------------
  { name: "chunk size `0x5`", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `0x5\r\nhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  {
    name: "a chunk extension with a space inside its name",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `5;a b\r\nhello\r\n0\r\n\r\n`),
    outcome: refuse(400),
  },
  { name: "a chunk extension with a bare quote", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `5;a="b\r\nhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  {
    name: "a valid chunk extension is read and not passed on",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `5;name=value;q="x y"\r\nhello\r\n0\r\n\r\n`),
    outcome: POSTED(),
  },
  { name: "chunk size with a leading space", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", ` 5\r\nhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  { name: "chunk size with a leading +", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `+5\r\nhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  { name: "negative chunk size", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `-5\r\nhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  {
    name: "chunk size of 17 digits (leading zeros)",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `00000000000000005\r\nhello\r\n0\r\n\r\n`),
    outcome: refuse(400),
  },
  { name: "chunk size past 2^53", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `20000000000000\r\nhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  {
    name: "chunk size that overflows 64 bits to 5",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `10000000000000005\r\nhello\r\n0\r\n\r\n`),
    outcome: refuse(400),
  },
  { name: "chunk data longer than its size", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `3\r\nhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  { name: "no CRLF after the chunk data", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `5\r\nhello0\r\n\r\n${SMUGGLED(p)}`), outcome: refuse(400) },
  { name: "LF-only line ends in a chunked body", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `5\nhello\n0\n\n`), outcome: refuse(400) },
  { name: "an LF inside a chunk extension", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `5;a\nb\r\nhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  { name: "a bare CR after the chunk size", send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `5\rhello\r\n0\r\n\r\n`), outcome: refuse(400) },
  {
    name: "trailers with framing and routing fields: those are dropped, the rest passed on",
    send: (p) =>
      post(
        p,
        "Transfer-Encoding: chunked\r\n",
        `${chunk(BODY)}0\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\nHost: evil.test\r\nX-Checksum: abc\r\n\r\n`,
      ),
    outcome: POSTED(),
    // The hono path's upstream client sends no trailers at all.
    upstream: ([request]) => expect(request!.trailers.filter(([n]) => n.toLowerCase() !== "x-checksum")).toEqual([]),
  },
  {
    name: "a trailer on an obs-fold continuation line",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\n", `${chunk(BODY)}0\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n`),
    outcome: refuse(400),
  },

  // ---- bare LF and bare CR in the head -------------------------------------------------------------------
  { name: "LF-only line ends throughout the head", send: (p) => `GET ${p}/get HTTP/1.1\nHost: a.test\n\n`, outcome: refuse(400) },
  { name: "a bare LF ending one field line", send: (p) => `GET ${p}/get HTTP/1.1\r\nHost: a.test\nTransfer-Encoding: chunked\r\n\r\n`, outcome: refuse(400) },
  { name: "a bare CR inside the request line", send: (p) => `GET ${p}/get\rHTTP/1.1\r\n${H}\r\n`, outcome: refuse(400) },
  { name: "a bare CR inside a field value", send: (p) => get(p, "X-A: b\rc\r\n"), outcome: refuse(400) },
  { name: "a blank line of a bare LF", send: (p) => `GET ${p}/get HTTP/1.1\r\n${H}\n${SMUGGLED(p)}`, outcome: refuse(400) },

  // ---- Host --------------------------------------------------------------------------------------------
  { name: "two Host fields", send: (p) => `GET ${p}/get HTTP/1.1\r\nHost: a.test\r\nHost: evil.test\r\n\r\n`, outcome: refuse(400) },
  { name: "Host with userinfo", send: (p) => `GET ${p}/get HTTP/1.1\r\nHost: user@evil.test\r\n\r\n`, outcome: refuse(400) },
  { name: "Host with a path", send: (p) => `GET ${p}/get HTTP/1.1\r\nHost: a.test/evil\r\n\r\n`, outcome: refuse(400) },
  { name: "Host as a list", send: (p) => `GET ${p}/get HTTP/1.1\r\nHost: a.test, evil.test\r\n\r\n`, outcome: refuse(400) },
  { name: "no Host in HTTP/1.1", send: (p) => `GET ${p}/get HTTP/1.1\r\nX-A: b\r\n\r\n`, outcome: refuse(400) },
  {
    name: "absolute-form naming another host than Host: the target's authority wins, one Host goes up",
    send: (p) => `GET http://b.test${p}/get HTTP/1.1\r\nHost: a.test\r\n\r\n`,
    outcome: GOT,
    upstream: ([request]) => expect(request!.fields.filter(([n]) => n.toLowerCase() === "host")).toEqual([["host", "b.test"]]),
  },
  { name: "absolute-form with userinfo", send: (p) => `GET http://user@b.test${p}/get HTTP/1.1\r\n${H}\r\n`, outcome: refuse(400) },
  { name: "absolute-form with a scheme other than http(s)", send: (p) => `GET ftp://b.test${p}/get HTTP/1.1\r\n${H}\r\n`, outcome: refuse(400) },

  // ---- versions and Expect ---------------------------------------------------------------------------------
  { name: "an HTTP/0.9 request line", send: (p) => `GET ${p}/get\r\n\r\n`, outcome: refuse(400) },
  { name: "HTTP/2.0 in an HTTP/1 request line", send: (p) => `GET ${p}/get HTTP/2.0\r\n${H}\r\n`, outcome: refuse(505) },
  {
    name: "HTTP/1.0 with Content-Length is served, then closed",
    send: (p) => `POST ${p}/post HTTP/1.0\r\nContent-Length: 5\r\n\r\n${BODY}`,
    outcome: POSTED(),
  },
  { name: "Expect: 100-continue with its body at once", send: (p) => post(p, "Expect: 100-continue\r\nContent-Length: 5\r\n", BODY), outcome: POSTED() },
  { name: "an expectation other than 100-continue", send: (p) => post(p, "Expect: 100-continue, x\r\nContent-Length: 5\r\n", BODY), outcome: refuse(417) },
  {
    name: "Expect: 100-continue on a request without a body, pipelined",
    send: (p) => get(p, "Expect: 100-continue\r\n") + get(p, "", "/second"),
    outcome: { serve: [{ path: "/get" }, { path: "/second" }] },
  },

  // ---- pipelining and hidden requests ------------------------------------------------------------------------
  {
    name: "GET with a body that holds a request: the body is a body",
    send: (p) => get(p, `Content-Length: ${SMUGGLED(p).length}\r\n`) + SMUGGLED(p),
    outcome: { serve: [{ path: "/get", body: `GET /P/smuggled HTTP/1.1\r\n${H}\r\n` }] },
  },
  {
    name: "HEAD with a body that holds a request",
    send: (p) => `HEAD ${p}/head HTTP/1.1\r\n${H}Content-Length: ${SMUGGLED(p).length}\r\n\r\n${SMUGGLED(p)}`,
    outcome: { serve: [{ method: "HEAD", path: "/head", body: `GET /P/smuggled HTTP/1.1\r\n${H}\r\n` }] },
  },
  {
    name: "an h2c upgrade the server does not take stays HTTP/1.1",
    send: (p) => get(p, "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"),
    outcome: GOT,
    upstream: ([request]) => expect(request!.field("http2-settings")).toBeUndefined(),
  },
  {
    name: "two requests in one write are two requests, answered in order",
    send: (p) => get(p) + get(p, "", "/second"),
    outcome: { serve: [{ path: "/get" }, { path: "/second" }] },
  },
  {
    name: "a chunked POST and a GET in one write",
    send: (p) => post(p, "Transfer-Encoding: chunked\r\n", CHUNKED_HELLO) + get(p, "", "/second"),
    outcome: { serve: [{ method: "POST", path: "/post", body: BODY }, { path: "/second" }] },
  },
  {
    name: "a valid request, then a broken one in the same write",
    send: (p) => get(p) + post(p, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", BODY),
    outcome: { serve: [{ path: "/get" }], thenRefuse: 400 },
  },
  {
    name: "an empty line between pipelined requests is skipped",
    send: (p) => post(p, "Content-Length: 5\r\n", BODY) + "\r\n" + get(p, "", "/second"),
    outcome: { serve: [{ method: "POST", path: "/post", body: BODY }, { path: "/second" }] },
  },
  { name: "three empty lines before a request line", send: (p) => "\r\n\r\n\r\n" + get(p), outcome: refuse(400) },
  {
    name: "`Connection: Content-Length` does not unframe the body",
    send: (p) => post(p, "Connection: Content-Length\r\nContent-Length: 5\r\n", BODY) + get(p, "", "/second"),
    outcome: { serve: [{ method: "POST", path: "/post", body: BODY }, { path: "/second" }] },
  },
  {
    name: "`Connection: Transfer-Encoding` does not unframe the body",
    send: (p) => post(p, "Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n", CHUNKED_HELLO) + get(p, "", "/second"),
    outcome: { serve: [{ method: "POST", path: "/post", body: BODY }, { path: "/second" }] },
  },

  // ---- the request line --------------------------------------------------------------------------------
  { name: "a space inside the target", send: (p) => `GET ${p}/a b HTTP/1.1\r\n${H}\r\n`, outcome: refuse(400) },
  { name: "a tab inside the target", send: (p) => `GET ${p}/a\tb HTTP/1.1\r\n${H}\r\n`, outcome: refuse(400) },
  { name: "two spaces after the method", send: (p) => `GET  ${p}/get HTTP/1.1\r\n${H}\r\n`, outcome: refuse(400) },
  { name: "a space after the version", send: (p) => `GET ${p}/get HTTP/1.1 \r\n${H}\r\n`, outcome: refuse(400) },
  { name: "a NUL inside the target", send: (p) => `GET ${p}/a\x00b HTTP/1.1\r\n${H}\r\n`, outcome: refuse(400) },
  { name: "a method that is not a token", send: (p) => `G(T ${p}/get HTTP/1.1\r\n${H}\r\n`, outcome: refuse(400) },

  // ---- field lines -------------------------------------------------------------------------------------
  { name: "whitespace before the first field line", send: (p) => `GET ${p}/get HTTP/1.1\r\n ${H}\r\n`, outcome: refuse(400) },
  { name: "a NUL in a field value", send: (p) => get(p, "X-A: b\x00c\r\n"), outcome: refuse(400) },
  { name: "a field line without a colon", send: (p) => get(p, "X-A b\r\n"), outcome: refuse(400) },
  {
    name: "obs-text in a field value is passed on as it is",
    send: (p) => get(p, "X-Latin: caf\xe9 \xff\r\n"),
    outcome: GOT,
    upstream: ([request]) => expect(request!.field("x-latin")).toBe("caf\xe9 \xff"),
  },
  {
    name: "`X_Forwarded_For` (underscore) does not reach the upstream",
    send: (p) => get(p, "X_Forwarded_For: 6.6.6.6\r\nX_Request_Id: forged\r\n"),
    outcome: GOT,
    upstream: ([request]) => expect(request!.fields.filter(([n]) => n.includes("_"))).toEqual([]),
  },
  { name: "100 header fields (the limit) are served", send: (p) => get(p, fieldsOf(99)), outcome: GOT },
  { name: "101 header fields are too many", send: (p) => get(p, fieldsOf(100)), outcome: refuse(431) },
];

describe.each(["byte path", "hono path"] as const)("request smuggling on the %s", (path) => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  const letter = path === "byte path" ? "e" : "h";

  beforeAll(async () => {
    up = await recordingUpstream();
    gw = await startEngineGateway("bun", {
      pools: { app: { servers: [{ url: up.url, maxFails: 0 }] } },
      routes: [
        // A beforeUpstream hook makes the route's requests go through hono as Request objects.
        { match: { path: "~^/h" }, pool: "app", plugins: [{ use: OBJECT_HEADERS, options: { request: { set: { "x-via": "hono" } } } }] },
        { pool: "app" },
      ],
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  cases.forEach((attack, index) => {
    const p = `/${letter}${String(index).padStart(3, "0")}`;
    const outcome = (path === "hono path" && attack.viaHono) || attack.outcome;
    test(`${attack.name} → ${"refuse" in outcome ? outcome.refuse : "served"}`, async () => {
      const requestsBefore = up.requests.length;
      const violationsBefore = up.violations.length;
      const expected: string[] = [];
      const c = await openWire(gw.port);
      try {
        c.write(Buffer.from(attack.send(p), "latin1"));
        if ("refuse" in outcome) {
          await expectRefusal(await c.read({ method: attack.send(p).split(" ")[0] }), outcome.refuse);
          await c.closed();
        } else {
          let last: WireResponse | undefined;
          for (const served of outcome.serve) {
            const method = served.method ?? "GET";
            last = await c.read({ method });
            const body = (served.body ?? "").replace("/P/", `${p}/`);
            expect(last.status).toBe(200);
            if (method !== "HEAD") expect(last.body.toString("latin1")).toBe(`${method} ${p}${served.path} ${body.length}`);
            expected.push(`${method} ${p}${served.path} ${JSON.stringify(body)}`);
          }
          if (outcome.thenRefuse !== undefined) {
            await expectRefusal(await c.read(), outcome.thenRefuse);
            await c.closed();
          } else if (last!.headers.get("connection") === "close") {
            await c.closed();
          } else {
            // Nothing else was read into this connection: the next request gets the next answer.
            c.write(`GET ${p}/probe HTTP/1.1\r\n${H}\r\n`);
            const probe = await c.read();
            expect(probe.body.toString("latin1")).toBe(`GET ${p}/probe 0`);
            expected.push(`GET ${p}/probe ""`);
          }
        }
      } finally {
        c.close();
      }

      // The victim, on a connection of its own: its own answer, whatever the attacker left behind.
      const victimId = `victim-${p.slice(1)}`;
      const v = await openWire(gw.port);
      try {
        v.write(`GET ${p}/victim HTTP/1.1\r\nHost: victim.test\r\nX-Request-Id: ${victimId}\r\n\r\n`);
        const answer = await v.read();
        expect(answer.status).toBe(200);
        expect(answer.body.toString("latin1")).toBe(`GET ${p}/victim 0`);
        expect(answer.headers.get("x-request-id")).toBe(victimId);
        expect(answer.headers.get("x-seen-id")).toBe(victimId);
      } finally {
        v.close();
      }
      expected.push(`GET ${p}/victim ""`);

      // The upstream read exactly the requests meant, each well formed, and nothing is left half-read on a live connection.
      const read = up.requests.slice(requestsBefore);
      expect(read.map((r) => `${r.method} ${r.target} ${JSON.stringify(r.body.toString("latin1"))}`)).toEqual(expected);
      expect(up.violations.slice(violationsBefore)).toEqual([]);
      if (path === "hono path") expect(read.every((r) => r.field("x-via") === "hono")).toBe(true);
      await until(() => up.connections.every((k) => k.closed || k.pending === 0), "no upstream connection holds part of a request");
      attack.upstream?.(read);
    });
  });
});

// The other side of a desync: an upstream that writes more than its answer (response queue poisoning). Whatever
// it wrote beyond its answer must never reach the next client that the connection would have served.
const POISON = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Poisoned: yes\r\n\r\npoisoned";
const OUT_OF_STEP: Record<string, (socket: Socket, request: RecordedRequest) => void> = {
  "bytes after a Content-Length body": (socket) => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi${POISON}`),
  "bytes after a chunked body": (socket) => socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n${POISON}`),
  "a body after a 204": (socket) => socket.write(`HTTP/1.1 204 No Content\r\n\r\n${POISON}`),
  "a body after the answer to HEAD": (socket) => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n${POISON.slice(-8)}`),
  "a second answer a moment later": (socket) => {
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    setImmediate(() => socket.write(POISON));
  },
};

describe.each(["byte path", "hono path"] as const)("an upstream out of step, on the %s", (path) => {
  let up: RecordingUpstream;
  let gw: EngineGateway;
  const prefix = path === "byte path" ? "/e" : "/h";

  beforeAll(async () => {
    up = await recordingUpstream((request, socket) => {
      const name = decodeURIComponent(request.target.split("/")[2] ?? "");
      const answer = OUT_OF_STEP[name];
      if (!answer) return false;
      answer(socket, request);
      return true;
    });
    gw = await startEngineGateway("bun", {
      pools: { app: { servers: [{ url: up.url, maxFails: 0 }] } },
      routes: [
        { match: { path: "~^/h" }, pool: "app", plugins: [{ use: OBJECT_HEADERS, options: { request: { set: { "x-via": "hono" } } } }] },
        { pool: "app" },
      ],
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  test.each(Object.keys(OUT_OF_STEP))("%s: the client gets the answer, the next client its own", async (name) => {
    const method = name.includes("HEAD") ? "HEAD" : "GET";
    const c = await openWire(gw.port);
    try {
      c.write(`${method} ${prefix}/${encodeURIComponent(name)} HTTP/1.1\r\n${H}\r\n`);
      const first = await c.read({ method });
      expect(first.headers.get("x-poisoned")).toBeUndefined();
      if (first.status === 200 && method === "GET") expect(first.body.toString()).toBe("hi");
    } finally {
      c.close();
    }
    // A few victims in a row, each on its own connection: none gets what the upstream wrote out of turn.
    for (let i = 0; i < 3; i++) {
      const v = await openWire(gw.port);
      try {
        v.write(`GET ${prefix}/victim-${i} HTTP/1.1\r\n${H}X-Request-Id: victim-${i}\r\n\r\n`);
        const answer = await v.read();
        expect(answer.headers.get("x-poisoned")).toBeUndefined();
        expect(answer.body.toString("latin1")).toBe(`GET ${prefix}/victim-${i} 0`);
        expect(answer.headers.get("x-seen-id")).toBe(`victim-${i}`);
      } finally {
        v.close();
      }
    }
  });
});

async function expectRefusal(response: WireResponse, status: number): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/json");
  expect(response.headers.get("connection")).toBe("close");
  const body = JSON.parse(response.body.toString()) as { error: string; requestId: string };
  expect(typeof body.error).toBe("string");
  expect(body.requestId).toBe(response.headers.get("x-request-id")!);
}

test("the table holds at least 50 attacks", () => {
  expect(cases.length).toBeGreaterThanOrEqual(50);
});
