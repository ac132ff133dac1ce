// HTTP/1.1 at the byte level for end-to-end engine tests: an upstream on node:net that records each request
// exactly as it arrived (head bytes, body as framed on the wire, connection it came on) and lets the test
// answer with whatever bytes it wants, and a client that writes raw bytes and reads answers one at a time
// off a keep-alive connection (1xx, Content-Length, chunked with trailers, or until the close).
// Both sides parse independently of the gateway's own parsers, and only as much as the tests need.
import { connect, createServer, type Socket } from "node:net";
import { closeServer, listen } from "./upstream.ts";

// ---- the upstream ---------------------------------------------------------------------------------------

/** One connection the upstream accepted. */
export interface WireConnection {
  /** 1, 2, … in accept order. */
  readonly id: number;
  readonly socket: Socket;
  /** Requests read on it so far. */
  requests: number;
  /** The connection closed (either side). */
  closed: boolean;
  /** When it closed (ms since epoch), 0 while open. */
  closedAt: number;
}

/** One request as the upstream read it. */
export interface WireRequest {
  /** The head exactly as sent: request line and header lines, without the blank line. */
  readonly head: string;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** Header lines split at the first colon, names as sent. */
  readonly fields: Array<[string, string]>;
  /** The body decoded from its framing. */
  readonly body: Buffer;
  /** The body bytes as framed on the wire (chunk sizes and trailers included). */
  readonly wireBody: Buffer;
  /** Trailer lines of a chunked body. */
  readonly trailers: string[];
  readonly connection: WireConnection;
  /** 1 for the first request on its connection. */
  readonly index: number;
}

export interface WireUpstream {
  readonly port: number;
  readonly url: string;
  readonly connections: WireConnection[];
  readonly requests: WireRequest[];
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections closed so far. */
  readonly closedCount: number;
  close(): Promise<void>;
}

export type WireAnswer = (request: WireRequest, socket: Socket) => void;

export interface WireUpstreamOptions {
  /** Called as soon as a request's head is in, before its body (a server that answers early): the head text. */
  onHead?(head: string, socket: Socket): void;
}

/**
 * A keep-alive upstream speaking bytes: reads request after request on each connection (Content-Length or
 * chunked bodies, whole) and calls `answer` for each; the answer writes to the socket itself. Requests read
 * while an answer is still being written are answered in turn, as a pipelining server would.
 */
export async function wireUpstream(answer: WireAnswer, options: WireUpstreamOptions = {}): Promise<WireUpstream> {
  const connections: WireConnection[] = [];
  const requests: WireRequest[] = [];
  const sockets = new Set<Socket>();
  let closedCount = 0;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    const connection: WireConnection = { id: connections.length + 1, socket, requests: 0, closed: false, closedAt: 0 };
    connections.push(connection);
    socket.on("error", () => {});
    socket.on("close", () => {
      connection.closed = true;
      connection.closedAt = Date.now();
      closedCount++;
      sockets.delete(socket);
    });
    socket.on("end", () => socket.end());
    // Bytes not parsed yet; joined only once a whole Content-Length body can be there.
    let parts: Buffer[] = [];
    let size = 0;
    let need = 0;
    /** `onHead` was called for the request being read. */
    let headSeen = false;
    socket.on("data", (chunk: Buffer) => {
      parts.push(chunk);
      size += chunk.length;
      for (;;) {
        if (size < need) return;
        const buffered = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        parts = [buffered];
        const parsed = readRequest(buffered);
        if (!parsed) {
          need = neededFor(buffered);
          const end = buffered.indexOf("\r\n\r\n");
          if (end >= 0 && !headSeen) {
            headSeen = true;
            options.onHead?.(buffered.subarray(0, end).toString("latin1"), socket);
          }
          return;
        }
        need = 0;
        const rest = buffered.subarray(parsed.consumed);
        parts = rest.length > 0 ? [rest] : [];
        size = rest.length;
        connection.requests++;
        const request: WireRequest = { ...parsed.request, connection, index: connection.requests };
        requests.push(request);
        if (!headSeen) options.onHead?.(request.head, socket);
        headSeen = false;
        answer(request, socket);
        if (socket.destroyed) return;
      }
    });
  });
  const port = await listen(server, 1024);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections,
    requests,
    get accepted() {
      return connections.length;
    },
    get closedCount() {
      return closedCount;
    },
    close: () => closeServer(server, sockets),
  };
}

type ParsedRequest = Omit<WireRequest, "connection" | "index">;

/** One whole request from the start of `bytes`, or undefined while incomplete. */
function readRequest(bytes: Buffer): { request: ParsedRequest; consumed: number } | undefined {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = bytes.subarray(0, end).toString("latin1");
  const [requestLine = "", ...lines] = head.split("\r\n");
  const [method = "", target = "", version = ""] = requestLine.split(" ");
  const fields = lines.map((line): [string, string] => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const field = (name: string) => fields.find(([n]) => n.toLowerCase() === name)?.[1];
  const start = end + 4;
  if (field("transfer-encoding")?.toLowerCase() === "chunked") {
    const decoded = decodeChunked(bytes, start);
    if (!decoded) return undefined;
    return {
      request: { head, method, target, version, fields, body: decoded.body, wireBody: bytes.subarray(start, decoded.end), trailers: decoded.trailers },
      consumed: decoded.end,
    };
  }
  const length = Number(field("content-length") ?? 0);
  if (bytes.length < start + length) return undefined;
  const body = bytes.subarray(start, start + length);
  return { request: { head, method, target, version, fields, body, wireBody: body, trailers: [] }, consumed: start + length };
}

/** How many bytes an incomplete request needs at least: its head plus a Content-Length body, once the head is in. */
function neededFor(bytes: Buffer): number {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return 0;
  const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(bytes.subarray(0, end + 2).toString("latin1"));
  return length ? end + 4 + Number(length[1]) : 0;
}

/** A chunked body starting at `offset`: its data, trailer lines and where it ends; undefined while incomplete. */
function decodeChunked(bytes: Buffer, offset: number): { body: Buffer; trailers: string[]; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = offset;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(bytes.subarray(at, lineEnd).toString("latin1").split(";")[0]!, 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(bytes.subarray(at, lineEnd).toString("latin1"))}`);
    at = lineEnd + 2;
    if (size === 0) break;
    if (bytes.length < at + size + 2) return undefined;
    parts.push(bytes.subarray(at, at + size));
    at += size + 2;
  }
  const trailers: string[] = [];
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const line = bytes.subarray(at, lineEnd).toString("latin1");
    at = lineEnd + 2;
    if (line === "") return { body: Buffer.concat(parts), trailers, end: at };
    trailers.push(line);
  }
}

/** A complete answer: status line, header lines, then the body with a Content-Length. */
export function answerWith(status: number, body: string | Buffer = "", fields: string[] = []): Buffer {
  const payload = typeof body === "string" ? Buffer.from(body, "latin1") : body;
  const head = `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Answer"}\r\n${fields.map((f) => `${f}\r\n`).join("")}Content-Length: ${payload.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), payload]);
}

// ---- the client -----------------------------------------------------------------------------------------

export interface WireResponse {
  readonly status: number;
  readonly reason: string;
  /** "HTTP/1.1" … */
  readonly version: string;
  /** The head as sent, without the blank line. */
  readonly head: string;
  /** Header lines split at the first colon, names as sent. */
  readonly fields: Array<[string, string]>;
  /** Lower-cased names; repeated fields joined with ", ". */
  readonly headers: Map<string, string>;
  /** How the body was framed. */
  readonly framing: "none" | "length" | "chunked" | "close";
  readonly body: Buffer;
  /** Trailer lines of a chunked body. */
  readonly trailers: string[];
  /** Informational answers (1xx) that came before this one. */
  readonly informational: WireResponse[];
}

export interface WireClient {
  readonly socket: Socket;
  write(data: string | Uint8Array): void;
  /** Read the next answer (after any 1xx); `method` tells whether a body follows (HEAD has none). */
  read(options?: { method?: string; timeoutMs?: number }): Promise<WireResponse>;
  /** Exactly `n` raw bytes (after an upgrade the connection is no longer HTTP). */
  bytes(n: number, timeoutMs?: number): Promise<Buffer>;
  /** Resolves once the gateway closed the connection (FIN or reset), with how long that took from the call. */
  closed(timeoutMs?: number): Promise<number>;
  /** Whether the connection has ended (the gateway's FIN, a reset, or our own close). */
  readonly ended: boolean;
  /** Bytes received and not yet consumed by `read`. */
  readonly pending: Buffer;
  /** How many bytes `pending` holds. */
  readonly buffered: number;
  close(): void;
}

/** Connect a raw client to 127.0.0.1:port. */
export async function openWire(port: number): Promise<WireClient> {
  const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: false });
  // Received bytes not consumed yet, in the pieces they came in: joined only as far as a read needs (a large
  // body, or many pipelined answers, is not copied once per packet).
  let parts: Buffer[] = [];
  let size = 0;
  const flat = (): Buffer => {
    if (parts.length > 1) parts = [Buffer.concat(parts)];
    return parts[0] ?? Buffer.alloc(0);
  };
  /** The first `n` bytes, removed. */
  const consume = (n: number): Buffer => {
    const taken: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const first = parts[0]!;
      if (first.length <= left) {
        taken.push(first);
        parts.shift();
        left -= first.length;
      } else {
        taken.push(first.subarray(0, left));
        parts[0] = first.subarray(left);
        left = 0;
      }
    }
    size -= n;
    return Buffer.concat(taken);
  };
  /** Where `delimiter` starts, joining leading pieces only until it is found; -1 when it is not there yet. */
  const find = (delimiter: string): number => {
    for (;;) {
      if (parts.length === 0) return -1;
      const at = parts[0]!.indexOf(delimiter);
      if (at >= 0) return at;
      if (parts.length === 1) return -1;
      parts.splice(0, 2, Buffer.concat([parts[0]!, parts[1]!]));
    }
  };
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  socket.on("data", (chunk: Buffer) => {
    parts.push(chunk);
    size += chunk.length;
    notify();
  });
  socket.on("error", () => {});
  socket.on("end", () => {
    ended = true;
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });

  /** Wait for more bytes (or the end) until `deadline`. */
  const more = (deadline: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (ended) return reject(new Error(`${what}: the connection ended; got ${JSON.stringify(flat().toString("latin1").slice(0, 300))}`));
      const timer = setTimeout(
        () => {
          wake = undefined;
          reject(new Error(`${what}: nothing within the deadline; got ${JSON.stringify(flat().toString("latin1").slice(0, 300))}`));
        },
        Math.max(0, deadline - Date.now()),
      );
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** Text up to `delimiter` (which is consumed too). */
  const upTo = async (delimiter: string, deadline: number, what: string) => {
    for (;;) {
      const end = find(delimiter);
      if (end >= 0) {
        const text = consume(end).toString("latin1");
        consume(delimiter.length);
        return text;
      }
      await more(deadline, what);
    }
  };
  const readHead = (deadline: number) => upTo("\r\n\r\n", deadline, "response head");
  const line = (deadline: number) => upTo("\r\n", deadline, "chunk line");

  const take = async (n: number, deadline: number) => {
    while (size < n) await more(deadline, `body (${n} bytes)`);
    return consume(n);
  };

  const readOne = async (method: string, deadline: number): Promise<Omit<WireResponse, "informational">> => {
    const head = await readHead(deadline);
    const [statusLine = "", ...lines] = head.split("\r\n");
    const match = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
    if (!match) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const status = Number(match[2]);
    const fields = lines.map((l): [string, string] => {
      const colon = l.indexOf(":");
      return [l.slice(0, colon), l.slice(colon + 1).trim()];
    });
    const headers = new Map<string, string>();
    for (const [name, value] of fields) {
      const lower = name.toLowerCase();
      headers.set(lower, headers.has(lower) ? `${headers.get(lower)}, ${value}` : value);
    }
    const base = { status, reason: match[3]!, version: match[1]!, head, fields, headers };
    if (status < 200 || status === 204 || status === 304 || method === "HEAD") return { ...base, framing: "none", body: Buffer.alloc(0), trailers: [] };
    if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
      const parts: Buffer[] = [];
      for (;;) {
        const size = parseInt((await line(deadline)).split(";")[0]!, 16);
        if (size === 0) break;
        parts.push(await take(size, deadline));
        if ((await line(deadline)) !== "") throw new Error("chunk data not followed by CRLF");
      }
      const trailers: string[] = [];
      for (let l = await line(deadline); l !== ""; l = await line(deadline)) trailers.push(l);
      return { ...base, framing: "chunked", body: Buffer.concat(parts), trailers };
    }
    if (headers.has("content-length")) return { ...base, framing: "length", body: await take(Number(headers.get("content-length")), deadline), trailers: [] };
    while (!ended)
      await more(deadline, "close-delimited body").catch((error) => {
        if (!ended) throw error;
      });
    return { ...base, framing: "close", body: consume(size), trailers: [] };
  };

  return {
    socket,
    write: (data) => void socket.write(data),
    async read({ method = "GET", timeoutMs = 5_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      const informational: WireResponse[] = [];
      for (;;) {
        const response = await readOne(method, deadline);
        if (response.status >= 200 || response.status === 101) return { ...response, informational };
        informational.push({ ...response, informational: [] });
      }
    },
    bytes: (n, timeoutMs = 5_000) => take(n, Date.now() + timeoutMs),
    async closed(timeoutMs = 5_000) {
      const started = Date.now();
      const deadline = started + timeoutMs;
      while (!ended) {
        await more(deadline, "waiting for the close").catch((error) => {
          if (!ended) throw error;
        });
      }
      return Date.now() - started;
    },
    get ended() {
      return ended;
    },
    get pending() {
      return flat();
    },
    get buffered() {
      return size;
    },
    close: () => socket.destroy(),
  };
}

/**
 * Start `work` now and return a function that yields its outcome later: a slow case (a timeout to wait out)
 * begun in a beforeAll, so that its waiting overlaps the other cases. A failure is kept for the caller, not
 * reported as an unhandled rejection meanwhile.
 */
export function background<T>(work: () => Promise<T>): () => Promise<T> {
  const outcome = work().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  return async () => {
    const settled = await outcome;
    if ("error" in settled) throw settled.error;
    return settled.value;
  };
}
