// Conformance tables for the HTTP/1.1 engine's byte parsers: raw messages and what each parser must make of
// them. Runtime-neutral (no test framework) so the same tables run under Bun's test runner and under Deno.
// Raw strings are latin1: every char is one byte, so "\xe9" is the byte 0xE9.
import { ChunkedDecoder, type ChunkedLimits } from "../../gateway/http/chunked.ts";
import type { HeadError, RequestHead, RequestLimits, ResponseHead } from "../../gateway/http/head.ts";

/** The bytes of a latin1 string. */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new Error(`not latin1: ${JSON.stringify(text)}`);
    out[i] = code;
  }
  return out;
}

export const LIMITS: RequestLimits = { maxUriLength: 8192, maxHeaderSize: 16384, maxHeaderCount: 100 };
export const MAX_RESPONSE_HEAD = 65536;

export function isHeadError(value: unknown): value is HeadError {
  return typeof value === "object" && value !== null && (value as HeadError).error === true;
}

// ---- Requests ------------------------------------------------------------------------------------------

export interface RequestCase {
  name: string;
  raw: string;
  limits?: Partial<RequestLimits>;
  /**
   * The refusal's status; "incomplete" when the parser must wait for more bytes; or the head's properties that
   * matter (headBytes defaults to the whole raw length).
   */
  expect: number | "incomplete" | Partial<RequestHead>;
}

const GET = (fields: string, version = "HTTP/1.1", target = "/") => `GET ${target} ${version}\r\n${fields}\r\n`;

/** A request whose header section ("Host: a" and one padding field) is exactly `size` bytes. */
function headerSectionOf(size: number): string {
  return GET(`Host: a\r\nX: ${"p".repeat(size - 9 - 5)}\r\n`);
}

/** A request with exactly `count` header fields. */
function fieldCount(count: number): string {
  return GET("Host: a\r\n" + "X: 1\r\n".repeat(count - 1));
}

const uri = (length: number) => "/" + "u".repeat(length - 1);

export const requestCases: RequestCase[] = [
  // The request line
  {
    name: "a minimal HTTP/1.1 GET",
    raw: GET("Host: example.com\r\n"),
    expect: {
      method: "GET",
      target: "/",
      pathAndQuery: "/",
      minor: 1,
      host: "example.com",
      fields: ["Host", "example.com"],
      contentLength: -1,
      chunked: false,
      close: false,
      expectContinue: false,
      upgrade: undefined,
      connectionTokens: undefined,
    },
  },
  {
    name: "field names and values are kept as sent, in order",
    raw: GET("hOsT: a\r\nX-B: 2\r\nX-A: 1\r\n"),
    expect: { fields: ["hOsT", "a", "X-B", "2", "X-A", "1"], host: "a" },
  },
  {
    name: "an extension method is kept as sent",
    raw: "PROPFIND /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: { method: "PROPFIND", target: "/x?y=1", pathAndQuery: "/x?y=1" },
  },
  { name: "methods are case-sensitive tokens", raw: "get / HTTP/1.1\r\nHost: a\r\n\r\n", expect: { method: "get" } },
  { name: "a method of 32 bytes", raw: `${"M".repeat(32)} / HTTP/1.1\r\nHost: a\r\n\r\n`, expect: { method: "M".repeat(32) } },
  { name: "a method of 33 bytes", raw: `${"M".repeat(33)} / HTTP/1.1\r\nHost: a\r\n\r\n`, expect: 501 },
  { name: "a method with a non-token byte", raw: "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "an empty method", raw: " / HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "two SPs after the method", raw: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "two SPs before the version", raw: "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "HTAB as the separator", raw: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a SP before the CRLF of the request line", raw: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", expect: 400 },
  { name: "an HTTP/0.9 request line", raw: "GET /\r\n\r\n", expect: 400 },
  { name: "one empty line before the request line", raw: "\r\n" + GET("Host: a\r\n"), expect: { method: "GET", headBytes: 29 } },
  { name: "two empty lines before the request line", raw: "\r\n\r\n" + GET("Host: a\r\n"), expect: { method: "GET", headBytes: 31 } },
  { name: "three empty lines before the request line", raw: "\r\n\r\n\r\n" + GET("Host: a\r\n"), expect: 400 },
  { name: "a bare LF before the request line", raw: "\n" + GET("Host: a\r\n"), expect: 400 },

  // Versions
  { name: "HTTP/1.0 without Host", raw: GET("", "HTTP/1.0"), expect: { minor: 0, host: "", close: true } },
  {
    name: "HTTP/1.0 with keep-alive",
    raw: GET("Connection: Keep-Alive\r\n", "HTTP/1.0"),
    expect: { minor: 0, close: false, connectionTokens: ["keep-alive"] },
  },
  { name: "HTTP/1.0 with a Host still checks it", raw: GET("Host: a b\r\n", "HTTP/1.0"), expect: 400 },
  { name: "HTTP/1.2 is served as 1.1", raw: GET("Host: a\r\n", "HTTP/1.2"), expect: { minor: 1 } },
  { name: "HTTP/1.9 is served as 1.1", raw: GET("Host: a\r\n", "HTTP/1.9"), expect: { minor: 1 } },
  { name: "HTTP/2.0", raw: GET("Host: a\r\n", "HTTP/2.0"), expect: 505 },
  { name: "HTTP/0.9", raw: GET("Host: a\r\n", "HTTP/0.9"), expect: 505 },
  { name: "HTTP/3.1", raw: GET("Host: a\r\n", "HTTP/3.1"), expect: 505 },
  { name: "a version without its minor", raw: GET("Host: a\r\n", "HTTP/2"), expect: 400 },
  { name: "a lower-case version", raw: GET("Host: a\r\n", "http/1.1"), expect: 400 },
  { name: "a two-digit minor", raw: GET("Host: a\r\n", "HTTP/1.10"), expect: 400 },
  { name: "a two-digit major", raw: GET("Host: a\r\n", "HTTP/11.1"), expect: 400 },

  // Targets
  {
    name: "absolute-form: its authority wins over Host",
    raw: GET("Host: other.example\r\n", "HTTP/1.1", "http://example.com/p?q=1"),
    expect: { host: "example.com", pathAndQuery: "/p?q=1", target: "http://example.com/p?q=1" },
  },
  {
    name: "absolute-form: the scheme in any case, a port, no path",
    raw: GET("Host: a\r\n", "HTTP/1.1", "HTTPS://Example.com:8443"),
    expect: { host: "Example.com:8443", pathAndQuery: "/" },
  },
  {
    name: "absolute-form: a query without a path",
    raw: GET("Host: a\r\n", "HTTP/1.1", "http://a.example?x=1"),
    expect: { host: "a.example", pathAndQuery: "/?x=1" },
  },
  {
    name: "absolute-form: an IPv6 authority",
    raw: GET("Host: a\r\n", "HTTP/1.1", "http://[2001:db8::1]:80/"),
    expect: { host: "[2001:db8::1]:80", pathAndQuery: "/" },
  },
  { name: "absolute-form with userinfo", raw: GET("Host: a\r\n", "HTTP/1.1", "http://user:pw@example.com/"), expect: 400 },
  { name: "absolute-form with an empty host", raw: GET("Host: a\r\n", "HTTP/1.1", "http:///x"), expect: 400 },
  { name: "absolute-form of another scheme", raw: GET("Host: a\r\n", "HTTP/1.1", "ftp://example.com/"), expect: 400 },
  { name: "absolute-form with an invalid Host field", raw: GET("Host: a,b\r\n", "HTTP/1.1", "http://example.com/"), expect: 400 },
  { name: "absolute-form in HTTP/1.1 still needs Host", raw: GET("", "HTTP/1.1", "http://example.com/"), expect: 400 },
  { name: "asterisk-form with OPTIONS", raw: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", expect: { method: "OPTIONS", target: "*", pathAndQuery: "*" } },
  { name: "asterisk-form with GET", raw: GET("Host: a\r\n", "HTTP/1.1", "*"), expect: 400 },
  { name: "a target starting with an asterisk", raw: "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "CONNECT", raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", expect: 501 },
  { name: "authority-form without CONNECT", raw: GET("Host: a\r\n", "HTTP/1.1", "example.com:80"), expect: 400 },
  { name: "a fragment in the target", raw: GET("Host: a\r\n", "HTTP/1.1", "/a#frag"), expect: 400 },
  { name: "a byte above 0x7F in the target", raw: GET("Host: a\r\n", "HTTP/1.1", "/caf\xe9"), expect: 400 },
  { name: "DEL in the target", raw: GET("Host: a\r\n", "HTTP/1.1", "/a\x7f"), expect: 400 },
  { name: "HTAB in the target", raw: GET("Host: a\r\n", "HTTP/1.1", "/a\tb"), expect: 400 },
  { name: "NUL in the target", raw: GET("Host: a\r\n", "HTTP/1.1", "/a\x00b"), expect: 400 },
  { name: "a target of exactly maxUriLength", raw: GET("Host: a\r\n", "HTTP/1.1", uri(64)), limits: { maxUriLength: 64 }, expect: { target: uri(64) } },
  { name: "a target one byte over maxUriLength", raw: GET("Host: a\r\n", "HTTP/1.1", uri(65)), limits: { maxUriLength: 64 }, expect: 414 },
  { name: "an over-long target is refused before its line ends", raw: "GET " + uri(65), limits: { maxUriLength: 64 }, expect: 414 },
  { name: "a target of maxUriLength still waits for the line", raw: "GET " + uri(64), limits: { maxUriLength: 64 }, expect: "incomplete" },

  // Line endings and bytes
  { name: "a bare LF ending the request line", raw: "GET / HTTP/1.1\nHost: a\r\n\r\n", expect: 400 },
  { name: "a bare LF ending a field line", raw: "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", expect: 400 },
  { name: "a bare LF as the blank line", raw: "GET / HTTP/1.1\r\nHost: a\r\n\n", expect: 400 },
  { name: "a bare CR inside a field value", raw: GET("Host: a\r\nX: a\rb\r\n"), expect: 400 },
  { name: "a bare CR ending the request line", raw: "GET / HTTP/1.1\rHost: a\r\n\r\n", expect: 400 },
  { name: "a CR not followed by LF as the blank line", raw: "GET / HTTP/1.1\r\nHost: a\r\n\rX", expect: 400 },
  { name: "NUL in a field value", raw: GET("Host: a\r\nX: a\x00b\r\n"), expect: 400 },
  { name: "NUL in a field name", raw: GET("Host: a\r\nX\x00Y: 1\r\n"), expect: 400 },
  { name: "a control byte in a field value", raw: GET("Host: a\r\nX: a\x01b\r\n"), expect: 400 },
  { name: "DEL in a field value", raw: GET("Host: a\r\nX: a\x7fb\r\n"), expect: 400 },
  { name: "obs-text in a field value is kept as latin1", raw: GET("Host: a\r\nX: caf\xe9 \xff\r\n"), expect: { fields: ["Host", "a", "X", "caf\xe9 \xff"] } },
  { name: "HTAB inside a value is kept, OWS around it stripped", raw: GET("Host: a\r\nX:\t a\tb \t\r\n"), expect: { fields: ["Host", "a", "X", "a\tb"] } },
  { name: "an empty field value", raw: GET("Host: a\r\nX-Empty:\r\nX-Blank:   \r\n"), expect: { fields: ["Host", "a", "X-Empty", "", "X-Blank", ""] } },
  { name: "whitespace between field name and colon", raw: GET("Host: a\r\nX-A : 1\r\n"), expect: 400 },
  { name: "obs-fold", raw: GET("Host: a\r\nX-A: 1\r\n 2\r\n"), expect: 400 },
  { name: "a field line starting with HTAB", raw: GET("Host: a\r\n\tX-A: 1\r\n"), expect: 400 },
  { name: "an empty field name", raw: GET("Host: a\r\n: 1\r\n"), expect: 400 },
  { name: "a field name with a non-token byte", raw: GET("Host: a\r\nX(A): 1\r\n"), expect: 400 },
  { name: "a field line without a colon", raw: GET("Host: a\r\nNoColon\r\n"), expect: 400 },
  { name: "a field name with obs-text", raw: GET("Host: a\r\nX\xe9: 1\r\n"), expect: 400 },

  // Host
  { name: "HTTP/1.1 without Host", raw: GET("X: 1\r\n"), expect: 400 },
  { name: "two Host fields", raw: GET("Host: a\r\nHost: a\r\n"), expect: 400 },
  { name: "an empty Host", raw: GET("Host:\r\n"), expect: { host: "" } },
  { name: "Host with a port", raw: GET("Host: a.example:8080\r\n"), expect: { host: "a.example:8080" } },
  { name: "Host with port 65535", raw: GET("Host: a:65535\r\n"), expect: { host: "a:65535" } },
  { name: "Host with port 65536", raw: GET("Host: a:65536\r\n"), expect: 400 },
  { name: "Host with a six-digit port", raw: GET("Host: a:000080\r\n"), expect: 400 },
  { name: "Host with an empty port", raw: GET("Host: a:\r\n"), expect: 400 },
  { name: "Host with a port and no host", raw: GET("Host: :80\r\n"), expect: 400 },
  { name: "Host with a signed port", raw: GET("Host: a:-1\r\n"), expect: 400 },
  { name: "Host as an IPv4 address", raw: GET("Host: 127.0.0.1:80\r\n"), expect: { host: "127.0.0.1:80" } },
  { name: "Host as an IPv6 literal", raw: GET("Host: [::1]:8080\r\n"), expect: { host: "[::1]:8080" } },
  { name: "Host as an IPv6 literal with an IPv4 tail", raw: GET("Host: [::ffff:192.0.2.1]\r\n"), expect: { host: "[::ffff:192.0.2.1]" } },
  { name: "Host as an IPv6 literal with a zone", raw: GET("Host: [fe80::1%25eth0]\r\n"), expect: 400 },
  { name: "Host as an unclosed IPv6 literal", raw: GET("Host: [::1\r\n"), expect: 400 },
  { name: "Host as an IPv6 literal with two elisions", raw: GET("Host: [1::2::3]\r\n"), expect: 400 },
  { name: "Host as an unbracketed IPv6 address", raw: GET("Host: ::1\r\n"), expect: 400 },
  { name: "Host with userinfo", raw: GET("Host: user@a\r\n"), expect: 400 },
  { name: "Host with a path", raw: GET("Host: a/b\r\n"), expect: 400 },
  { name: "Host as a comma list", raw: GET("Host: a,b\r\n"), expect: 400 },
  { name: "Host with an inner space", raw: GET("Host: a b\r\n"), expect: 400 },
  { name: "Host with pct-encoding", raw: GET("Host: a%41b\r\n"), expect: { host: "a%41b" } },
  { name: "Host with broken pct-encoding", raw: GET("Host: a%4\r\n"), expect: 400 },
  {
    name: "Host with sub-delims and unreserved bytes",
    raw: GET("Host: a-b_c~d!e$f&g'h(i)j*k+l;m=n.example\r\n"),
    expect: { host: "a-b_c~d!e$f&g'h(i)j*k+l;m=n.example" },
  },

  // Content-Length
  { name: "Content-Length", raw: GET("Host: a\r\nContent-Length: 5\r\n") + "hello", expect: { contentLength: 5, headBytes: 46 } },
  { name: "Content-Length: 0", raw: GET("Host: a\r\nContent-Length: 0\r\n"), expect: { contentLength: 0 } },
  { name: "two identical Content-Length fields", raw: GET("Host: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n"), expect: { contentLength: 5 } },
  { name: "a Content-Length list of identical values", raw: GET("Host: a\r\nContent-Length: 5 , 5,5\r\n"), expect: { contentLength: 5 } },
  { name: "two differing Content-Length fields", raw: GET("Host: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n"), expect: 400 },
  { name: "Content-Length: 5, 6", raw: GET("Host: a\r\nContent-Length: 5, 6\r\n"), expect: 400 },
  { name: "Content-Length: +5", raw: GET("Host: a\r\nContent-Length: +5\r\n"), expect: 400 },
  { name: "Content-Length: -1", raw: GET("Host: a\r\nContent-Length: -1\r\n"), expect: 400 },
  { name: "Content-Length with an inner space", raw: GET("Host: a\r\nContent-Length: 1 2\r\n"), expect: 400 },
  { name: "an empty Content-Length", raw: GET("Host: a\r\nContent-Length:\r\n"), expect: 400 },
  { name: "Content-Length with an empty list element", raw: GET("Host: a\r\nContent-Length: 5,\r\n"), expect: 400 },
  { name: "Content-Length in hex", raw: GET("Host: a\r\nContent-Length: 0x5\r\n"), expect: 400 },
  {
    name: "Content-Length of Number.MAX_SAFE_INTEGER",
    raw: GET("Host: a\r\nContent-Length: 9007199254740991\r\n"),
    expect: { contentLength: 9007199254740991 },
  },
  { name: "Content-Length above Number.MAX_SAFE_INTEGER", raw: GET("Host: a\r\nContent-Length: 9007199254740992\r\n"), expect: 400 },
  { name: "Content-Length of 17 digits, leading zeros", raw: GET("Host: a\r\nContent-Length: 00000000000000005\r\n"), expect: 400 },
  { name: "a broken Content-Length is refused before the head ends", raw: "GET / HTTP/1.1\r\nContent-Length: abc\r\n", expect: 400 },

  // Transfer-Encoding and smuggling shapes
  { name: "Transfer-Encoding: chunked", raw: GET("Host: a\r\nTransfer-Encoding: chunked\r\n"), expect: { chunked: true, contentLength: -1 } },
  { name: "Transfer-Encoding in any case", raw: GET("Host: a\r\ntransfer-encoding: ChUnKeD\r\n"), expect: { chunked: true } },
  { name: "Transfer-Encoding: gzip, chunked", raw: GET("Host: a\r\nTransfer-Encoding: gzip, chunked\r\n"), expect: 501 },
  {
    name: "Transfer-Encoding split over two fields, gzip then chunked",
    raw: GET("Host: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
    expect: 501,
  },
  { name: "Transfer-Encoding: chunked, gzip", raw: GET("Host: a\r\nTransfer-Encoding: chunked, gzip\r\n"), expect: 400 },
  { name: "Transfer-Encoding: gzip", raw: GET("Host: a\r\nTransfer-Encoding: gzip\r\n"), expect: 400 },
  { name: "Transfer-Encoding: identity", raw: GET("Host: a\r\nTransfer-Encoding: identity\r\n"), expect: 400 },
  { name: "Transfer-Encoding: chunked, chunked", raw: GET("Host: a\r\nTransfer-Encoding: chunked, chunked\r\n"), expect: 400 },
  { name: "duplicate Transfer-Encoding fields", raw: GET("Host: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), expect: 400 },
  { name: "Transfer-Encoding: xchunked", raw: GET("Host: a\r\nTransfer-Encoding: xchunked\r\n"), expect: 400 },
  { name: "Transfer-Encoding: chunkedx", raw: GET("Host: a\r\nTransfer-Encoding: chunkedx\r\n"), expect: 400 },
  { name: "Transfer-Encoding with OWS before chunked", raw: GET("Host: a\r\nTransfer-Encoding:   chunked\r\n"), expect: { chunked: true } },
  { name: "Transfer-Encoding with a vertical tab after chunked", raw: GET("Host: a\r\nTransfer-Encoding: chunked\x0b\r\n"), expect: 400 },
  { name: "Transfer-Encoding with a form feed before chunked", raw: GET("Host: a\r\nTransfer-Encoding: \x0cchunked\r\n"), expect: 400 },
  { name: "Transfer-Encoding : chunked", raw: GET("Host: a\r\nTransfer-Encoding : chunked\r\n"), expect: 400 },
  { name: "a Transfer-Encoding line starting with SP", raw: GET("Host: a\r\n Transfer-Encoding: chunked\r\n"), expect: 400 },
  { name: "Transfer-Encoding folded onto a second line", raw: GET("Host: a\r\nTransfer-Encoding:\r\n chunked\r\n"), expect: 400 },
  { name: "Transfer-Encoding with a parameter", raw: GET("Host: a\r\nTransfer-Encoding: chunked;q=1\r\n"), expect: 400 },
  { name: "Transfer-Encoding quoted", raw: GET('Host: a\r\nTransfer-Encoding: "chunked"\r\n'), expect: 400 },
  { name: "Transfer-Encoding with an empty element", raw: GET("Host: a\r\nTransfer-Encoding: , chunked\r\n"), expect: 400 },
  { name: "an empty Transfer-Encoding", raw: GET("Host: a\r\nTransfer-Encoding:\r\n"), expect: 400 },
  {
    name: "CL.TE: Content-Length then Transfer-Encoding",
    raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    expect: 400,
  },
  {
    name: "TE.CL: Transfer-Encoding then Content-Length",
    raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST",
    expect: 400,
  },
  { name: "Transfer-Encoding in an HTTP/1.0 request", raw: GET("Transfer-Encoding: chunked\r\n", "HTTP/1.0"), expect: 400 },
  {
    name: "Transfer-Encoding ending in something else is refused before the head ends",
    raw: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n",
    expect: 400,
  },

  // Connection, Upgrade, Expect
  { name: "Connection: close", raw: GET("Host: a\r\nConnection: close\r\n"), expect: { close: true, connectionTokens: ["close"] } },
  {
    name: "Connection options are lower-cased, across fields, empty elements skipped",
    raw: GET("Host: a\r\nConnection: Keep-Alive, ,X-Trace\r\nconnection: TE\r\n"),
    expect: { close: false, connectionTokens: ["keep-alive", "x-trace", "te"] },
  },
  { name: "a Connection value that is not a token list", raw: GET("Host: a\r\nConnection: close foo\r\n"), expect: 400 },
  {
    name: "an upgrade request",
    raw: GET("Host: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"),
    expect: { upgrade: "websocket", connectionTokens: ["upgrade"] },
  },
  { name: "Upgrade without Connection: upgrade", raw: GET("Host: a\r\nUpgrade: websocket\r\n"), expect: { upgrade: undefined } },
  { name: "Expect: 100-continue", raw: GET("Host: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n"), expect: { expectContinue: true, contentLength: 3 } },
  { name: "Expect: 100-continue from HTTP/1.0 is ignored", raw: GET("Expect: 100-continue\r\n", "HTTP/1.0"), expect: { expectContinue: false } },
  { name: "another expectation", raw: GET("Host: a\r\nExpect: 200-ok\r\n"), expect: 417 },

  // Limits
  { name: "a header section of exactly maxHeaderSize", raw: headerSectionOf(100), limits: { maxHeaderSize: 100 }, expect: { method: "GET" } },
  { name: "a header section one byte over maxHeaderSize", raw: headerSectionOf(101), limits: { maxHeaderSize: 100 }, expect: 431 },
  {
    name: "an over-large header section is refused before the head ends",
    raw: "GET / HTTP/1.1\r\nHost: a\r\nX: " + "p".repeat(100),
    limits: { maxHeaderSize: 100 },
    expect: 431,
  },
  {
    name: "a header section of maxHeaderSize waits for its blank line",
    raw: headerSectionOf(100).slice(0, -2),
    limits: { maxHeaderSize: 100 },
    expect: "incomplete",
  },
  { name: "exactly maxHeaderCount fields", raw: fieldCount(10), limits: { maxHeaderCount: 10 }, expect: { method: "GET" } },
  { name: "one field over maxHeaderCount", raw: fieldCount(11), limits: { maxHeaderCount: 10 }, expect: 431 },
  { name: "one field over maxHeaderCount is refused at its first byte", raw: fieldCount(11).slice(0, -6), limits: { maxHeaderCount: 10 }, expect: 431 },

  // Incomplete heads and what follows a head
  { name: "a head without its blank line", raw: "GET / HTTP/1.1\r\nHost: a\r\n", expect: "incomplete" },
  { name: "a head cut between CR and LF", raw: "GET / HTTP/1.1\r\nHost: a\r\n\r", expect: "incomplete" },
  { name: "a lone CR", raw: "\r", expect: "incomplete" },
  { name: "nothing yet", raw: "", expect: "incomplete" },
  {
    name: "pipelined heads: the first ends exactly at its blank line",
    raw: GET("Host: a\r\n", "HTTP/1.1", "/a") + GET("Host: a\r\n", "HTTP/1.1", "/b"),
    expect: { target: "/a", headBytes: 28 },
  },
];

export function requestLimits(c: RequestCase): RequestLimits {
  return { ...LIMITS, ...c.limits };
}

/** What the parser made of `result`, in the shape of `expected`: a status, "incomplete", or the expected keys only. */
export function requestOutcome(result: RequestHead | HeadError | undefined, expected: unknown): unknown {
  if (result === undefined) return "incomplete";
  if (isHeadError(result)) return result.status;
  if (typeof expected !== "object" || expected === null) return result;
  return pick(result, expected);
}

/** The expectation with its defaults filled in. */
export function expectedRequest(c: RequestCase): unknown {
  if (typeof c.expect !== "object") return c.expect;
  return { headBytes: c.raw.length, ...c.expect };
}

// ---- Responses -----------------------------------------------------------------------------------------

export interface ResponseCase {
  name: string;
  raw: string;
  maxHeadSize?: number;
  /** 502 for a refusal (every refusal is a 502), "incomplete", or the head's properties that matter. */
  expect: 502 | "incomplete" | Partial<ResponseHead>;
}

export const responseCases: ResponseCase[] = [
  {
    name: "a 200 with Content-Length",
    raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    expect: {
      status: 200,
      reason: "OK",
      minor: 1,
      fields: ["Content-Length", "5"],
      contentLength: 5,
      chunked: false,
      closeDelimited: false,
      close: false,
      connectionTokens: undefined,
      headBytes: 38,
    },
  },
  { name: "no reason phrase and no SP", raw: "HTTP/1.1 204\r\n\r\n", expect: { status: 204, reason: "" } },
  { name: "an empty reason phrase after the SP", raw: "HTTP/1.1 204 \r\n\r\n", expect: { status: 204, reason: "" } },
  { name: "a reason phrase kept as sent", raw: "HTTP/1.1 404 Not \tFound \xe9\r\n\r\n", expect: { reason: "Not \tFound \xe9" } },
  { name: "HTTP/1.0 closes", raw: "HTTP/1.0 200 OK\r\n\r\n", expect: { minor: 0, close: true } },
  { name: "HTTP/1.0 with keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", expect: { minor: 0, close: false } },
  { name: "HTTP/1.1 with Connection: close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", expect: { close: true, connectionTokens: ["close"] } },
  { name: "HTTP/1.7 is read as 1.1", raw: "HTTP/1.7 200 OK\r\n\r\n", expect: { minor: 1 } },
  { name: "HTTP/2 status line", raw: "HTTP/2 200 OK\r\n\r\n", expect: 502 },
  { name: "HTTP/2.0 status line", raw: "HTTP/2.0 200 OK\r\n\r\n", expect: 502 },
  { name: "a lower-case version", raw: "http/1.1 200 OK\r\n\r\n", expect: 502 },
  { name: "status 100", raw: "HTTP/1.1 100 Continue\r\n\r\n", expect: { status: 100 } },
  { name: "status 599", raw: "HTTP/1.1 599 X\r\n\r\n", expect: { status: 599 } },
  { name: "status 099", raw: "HTTP/1.1 099 X\r\n\r\n", expect: 502 },
  { name: "status 600", raw: "HTTP/1.1 600 X\r\n\r\n", expect: 502 },
  { name: "a two-digit status", raw: "HTTP/1.1 20 OK\r\n\r\n", expect: 502 },
  { name: "a four-digit status", raw: "HTTP/1.1 2000 OK\r\n\r\n", expect: 502 },
  { name: "a control byte in the reason", raw: "HTTP/1.1 200 O\x01K\r\n\r\n", expect: 502 },
  { name: "a bare LF ending the status line", raw: "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", expect: 502 },
  { name: "a bare LF ending a field line", raw: "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", expect: 502 },
  { name: "NUL in a field value", raw: "HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n", expect: 502 },
  { name: "obs-fold", raw: "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", expect: 502 },
  { name: "whitespace before the colon", raw: "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", expect: 502 },
  {
    name: "Transfer-Encoding: chunked",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    expect: { chunked: true, closeDelimited: false, contentLength: -1 },
  },
  {
    name: "Transfer-Encoding: gzip, chunked keeps gzip and de-frames chunked",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    expect: { chunked: true, closeDelimited: false, fields: ["Transfer-Encoding", "gzip, chunked"] },
  },
  {
    name: "Transfer-Encoding: gzip runs to close",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    expect: { chunked: false, closeDelimited: true },
  },
  {
    name: "Transfer-Encoding: chunked, gzip runs to close",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    expect: { chunked: false, closeDelimited: true },
  },
  { name: "Transfer-Encoding: chunked twice", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", expect: 502 },
  { name: "Transfer-Encoding: xchunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n", expect: { chunked: false, closeDelimited: true } },
  { name: "an empty Transfer-Encoding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", expect: 502 },
  { name: "Transfer-Encoding with Content-Length", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", expect: 502 },
  { name: "Content-Length with Transfer-Encoding", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", expect: 502 },
  { name: "Transfer-Encoding in an HTTP/1.0 response", raw: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", expect: 502 },
  { name: "differing Content-Length fields", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", expect: 502 },
  { name: "a Content-Length list of identical values", raw: "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", expect: { contentLength: 7 } },
  { name: "Content-Length: +5", raw: "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", expect: 502 },
  { name: "no framing fields", raw: "HTTP/1.1 200 OK\r\nX: 1\r\n\r\n", expect: { contentLength: -1, chunked: false, closeDelimited: false } },
  {
    name: "a 101 switching protocols",
    raw: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    expect: { status: 101, connectionTokens: ["upgrade"] },
  },
  { name: "a head of exactly maxHeadSize", raw: "HTTP/1.1 200 OK\r\nX: 123456\r\n\r\n", maxHeadSize: 30, expect: { status: 200, headBytes: 30 } },
  { name: "a head one byte over maxHeadSize", raw: "HTTP/1.1 200 OK\r\nX: 1234567\r\n\r\n", maxHeadSize: 30, expect: 502 },
  { name: "an over-large head is refused before it ends", raw: "HTTP/1.1 200 OK\r\nX: " + "1".repeat(40), maxHeadSize: 30, expect: 502 },
  { name: "an over-long status line is refused before it ends", raw: "HTTP/1.1 200 " + "O".repeat(40), maxHeadSize: 30, expect: 502 },
  { name: "an incomplete head", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", expect: "incomplete" },
  { name: "an incomplete status line", raw: "HTTP/1.", expect: "incomplete" },
  { name: "leading empty lines are not skipped in responses", raw: "\r\nHTTP/1.1 200 OK\r\n\r\n", expect: 502 },
];

export function responseOutcome(result: ResponseHead | HeadError | undefined, expected: unknown): unknown {
  if (result === undefined) return "incomplete";
  if (isHeadError(result)) return result.status;
  if (typeof expected !== "object" || expected === null) return result;
  return pick(result, expected);
}

export function expectedResponse(c: ResponseCase): unknown {
  if (typeof c.expect !== "object") return c.expect;
  return { headBytes: c.raw.length, ...c.expect };
}

// ---- Chunked bodies ------------------------------------------------------------------------------------

export interface ChunkedCase {
  name: string;
  raw: string;
  limits?: ChunkedLimits;
  /** "error", or the decoded body: data (latin1), trailers, whether it is done and how many bytes it used (default all). */
  expect: "error" | { data: string; trailers?: string[]; done?: boolean; consumed?: number };
}

const EXT_LINE = (length: number) => "5;" + "e".repeat(length - 2);

export const chunkedCases: ChunkedCase[] = [
  { name: "one chunk", raw: "5\r\nhello\r\n0\r\n\r\n", expect: { data: "hello" } },
  { name: "several chunks", raw: "5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n", expect: { data: "hello world!" } },
  { name: "hex sizes in both cases", raw: "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n", expect: { data: "0123456789abcdefghijk" } },
  { name: "chunk data holding CR, LF and NUL", raw: "6\r\n\r\n0\r\n\x00\r\n0\r\n\r\n", expect: { data: "\r\n0\r\n\x00" } },
  { name: "an empty body", raw: "0\r\n\r\n", expect: { data: "" } },
  { name: "a size with leading zeros", raw: "0005\r\nhello\r\n000\r\n\r\n", expect: { data: "hello" } },
  { name: "a size of 16 digits with leading zeros", raw: "0000000000000005\r\nhello\r\n0\r\n\r\n", expect: { data: "hello" } },
  { name: "a size of 17 digits with leading zeros", raw: "00000000000000005\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a size of Number.MAX_SAFE_INTEGER is accepted (then waits for its data)", raw: "1fffffffffffff\r\nabc", expect: { data: "abc", done: false } },
  { name: "a size above Number.MAX_SAFE_INTEGER", raw: "20000000000000\r\n", expect: "error" },
  { name: "a 64-bit overflowing size", raw: "10000000000000005\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a 0x prefix", raw: "0x5\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a plus sign", raw: "+5\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a minus sign", raw: "-5\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a space before the size", raw: " 5\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a space after the size without an extension", raw: "5 \r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "an empty size", raw: "\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a non-hex size", raw: "g\r\n", expect: "error" },
  {
    name: "chunk extensions are validated and dropped",
    raw: '5;a=b;c\r\nhello\r\n5 ; d = "q \\" ; e" ;f=g\r\nworld\r\n0;last\r\n\r\n',
    expect: { data: "helloworld" },
  },
  { name: "an extension without a name", raw: "5;\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "an extension with an empty value", raw: "5;a=\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "an extension name followed by a space and a token", raw: "5;a b\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "whitespace at the end of an extension", raw: "5;a \r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "an unterminated quoted extension value", raw: '5;a="b\r\nhello\r\n0\r\n\r\n', expect: "error" },
  { name: "a bare CR inside an extension", raw: "5;a\rb\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "an LF-only size line", raw: "5\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "an LF-only line after the data", raw: "5\r\nhello\n0\r\n\r\n", expect: "error" },
  { name: "an LF-only last chunk line", raw: "5\r\nhello\r\n0\n\r\n", expect: "error" },
  { name: "an LF-only blank line after the last chunk", raw: "5\r\nhello\r\n0\r\n\n", expect: "error" },
  { name: "data longer than its size", raw: "5\r\nhelloX\r\n0\r\n\r\n", expect: "error" },
  { name: "data shorter than its size (TE.CL shape)", raw: "6\r\nhello\r\n0\r\n\r\n", expect: "error" },
  {
    name: "a chunk-size line of exactly maxLineLength",
    raw: EXT_LINE(32) + "\r\nhello\r\n0\r\n\r\n",
    limits: { maxLineLength: 32 },
    expect: { data: "hello" },
  },
  { name: "a chunk-size line one byte over maxLineLength", raw: EXT_LINE(33) + "\r\nhello\r\n0\r\n\r\n", limits: { maxLineLength: 32 }, expect: "error" },
  { name: "an over-long chunk-size line is refused before it ends", raw: EXT_LINE(33), limits: { maxLineLength: 32 }, expect: "error" },
  {
    name: "trailer fields",
    raw: "5\r\nhello\r\n0\r\nX-Sum: abc\r\nx-other:  v w \r\n\r\n",
    expect: { data: "hello", trailers: ["X-Sum", "abc", "x-other", "v w"] },
  },
  {
    name: "a trailer section of exactly maxTrailerSize",
    raw: "0\r\nX: 1234\r\nY: 5\r\n\r\n",
    limits: { maxTrailerSize: 15 },
    expect: { data: "", trailers: ["X", "1234", "Y", "5"] },
  },
  { name: "a trailer section one byte over maxTrailerSize", raw: "0\r\nX: 12345\r\nY: 5\r\n\r\n", limits: { maxTrailerSize: 15 }, expect: "error" },
  { name: "an over-large trailer section is refused before it ends", raw: "0\r\nX: " + "1".repeat(20), limits: { maxTrailerSize: 15 }, expect: "error" },
  { name: "an obs-folded trailer", raw: "0\r\nX: 1\r\n 2\r\n\r\n", expect: "error" },
  { name: "a trailer with a bare LF", raw: "0\r\nX: 1\n\r\n", expect: "error" },
  { name: "a trailer with NUL", raw: "0\r\nX: \x00\r\n\r\n", expect: "error" },
  { name: "a trailer with whitespace before the colon", raw: "0\r\nX : 1\r\n\r\n", expect: "error" },
  { name: "the next message after the body is not consumed", raw: "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", expect: { data: "hello", consumed: 15 } },
  { name: "the next message after trailers is not consumed", raw: "0\r\nX: 1\r\n\r\nGET /", expect: { data: "", trailers: ["X", "1"], consumed: 11 } },
  { name: "a body cut inside a chunk", raw: "5\r\nhel", expect: { data: "hel", done: false } },
  { name: "a body cut before the final CRLF", raw: "5\r\nhello\r\n0\r\n\r", expect: { data: "hello", done: false } },
];

export interface ChunkedResult {
  data: string;
  trailers: string[];
  done: boolean;
  consumed: number;
  error: string | undefined;
}

/** Decodes `raw` fed in pieces of `pieceSize` bytes (Infinity: one call), as a caller does: the next call starts where the last one stopped. */
export function decodeChunked(raw: Uint8Array, pieceSize: number, limits?: ChunkedLimits): ChunkedResult {
  const decoder = new ChunkedDecoder(limits);
  let data = "";
  let consumed = 0;
  for (let start = 0; start < raw.length; ) {
    const end = Math.min(raw.length, start + pieceSize);
    const next = decoder.push(raw, start, end, (piece) => {
      if (piece.length === 0) throw new Error("onData called with no data");
      for (const byte of piece) data += String.fromCharCode(byte);
    });
    if (next < 0) break;
    consumed = next;
    if (decoder.done) break;
    if (next !== end) throw new Error(`consumed ${next} of ${end} before the body ended`);
    start = end;
  }
  return { data, trailers: decoder.trailers, done: decoder.done, consumed, error: decoder.error };
}

export function chunkedOutcome(result: ChunkedResult): unknown {
  if (result.error !== undefined) return "error";
  return { data: result.data, trailers: result.trailers, done: result.done, consumed: result.consumed };
}

export function expectedChunked(c: ChunkedCase): unknown {
  if (c.expect === "error") return "error";
  return { trailers: [], done: true, consumed: c.raw.length, ...c.expect };
}

// ---- Shared checks ---------------------------------------------------------------------------------------

function pick(value: object, keys: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(keys)) out[key] = (value as Record<string, unknown>)[key];
  return out;
}

/**
 * A head parser must answer every prefix of its input consistently with the whole: before a complete head,
 * "wait"; once a prefix is refused, the same refusal for every longer input. Returns the first inconsistency.
 */
export function prefixProblem(bytes: Uint8Array, parse: (bytes: Uint8Array) => object | undefined): string | undefined {
  const whole = parse(bytes);
  let refusal: HeadError | undefined;
  for (let length = 0; length <= bytes.length; length++) {
    const part = parse(bytes.subarray(0, length));
    if (refusal !== undefined) {
      if (!isHeadError(part) || part.status !== refusal.status || part.message !== refusal.message)
        return `refused at ${refusal.status} (${refusal.message}) with ${length - 1} bytes, then ${JSON.stringify(part)} with ${length}`;
      continue;
    }
    if (part === undefined) continue;
    if (isHeadError(part)) {
      refusal = part;
      continue;
    }
    const headBytes = (part as { headBytes: number }).headBytes;
    if (headBytes !== length) return `a head of ${headBytes} bytes was parsed from ${length} bytes, with no wait before it`;
    if (JSON.stringify(part) !== JSON.stringify(whole)) return `the head parsed from ${length} bytes differs from the whole input's`;
    return undefined;
  }
  return undefined;
}
