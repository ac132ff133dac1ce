// Reads the server name (SNI) from the first bytes of a TLS connection without terminating TLS, so a `tcp`
// listener with an `sni` table can pick the upstream and then pipe the untouched bytes to it (passthrough).
// Grammar from RFC 5246 §6.2.1/§7.4.1.2 (TLS 1.2), RFC 8446 §4.1.2/§5.1 (TLS 1.3) and RFC 6066 §3
// (server_name). Everything here distrusts the input: every length is checked against what is left of the
// enclosing structure before it is used, and the sizes that could make a caller buffer a lot are bounded.

export type ClientHelloResult = { kind: "incomplete" } | { kind: "invalid"; reason: string } | { kind: "ok"; serverName: string | undefined };

/** RFC 8446 §5.1 / RFC 5246 §6.2.1: a plaintext record (the ClientHello is one) carries at most 2^14 bytes. */
export const TLS_MAX_PLAINTEXT_RECORD = 16384;

/**
 * Largest ClientHello body accepted. Real ones are 200 bytes to a few KB (post-quantum key shares bring
 * Chrome to ~1.8 KB); the encoding allows ~130 KB, more than anyone needs to buffer per connection.
 */
export const CLIENT_HELLO_MAX_LENGTH = 65536;

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_HEADER = 4;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
const MAX_HOST_NAME = 253; // DNS: 255 octets on the wire = 253 characters of text

const INCOMPLETE: ClientHelloResult = Object.freeze({ kind: "incomplete" });

function invalid(reason: string): ClientHelloResult {
  return { kind: "invalid", reason };
}

/**
 * Parses the ClientHello at the start of `buffer` (the bytes a client sent so far). "incomplete": a valid
 * ClientHello could still follow, read more and call again with the whole buffer; "invalid": these bytes
 * are not a TLS ClientHello (or a malformed one); "ok": the whole handshake message arrived and is well
 * formed, with its host_name lower-cased and without a trailing dot, or undefined when the client sent no
 * server_name. The buffer is never modified: the caller forwards it as it came.
 */
export function parseClientHello(buffer: Uint8Array): ClientHelloResult {
  const message = reassemble(buffer);
  if (!(message instanceof Uint8Array)) return message;
  return readClientHello(message);
}

/**
 * Collects the first handshake message from consecutive handshake records. RFC 8446 §5.1: a handshake
 * message may be split over several records (and its 4-byte header too), and other record types must not
 * be interleaved with a handshake message's fragments. Returns the message (header included) or a verdict.
 */
function reassemble(buffer: Uint8Array): Uint8Array | ClientHelloResult {
  const fragments: Uint8Array[] = [];
  let have = 0; // handshake bytes collected
  let total = -1; // header + body once the 4-byte header is in
  let offset = 0;
  for (let record = 0; total < 0 || have < total; record++) {
    const headerSeen = Math.min(buffer.length - offset, RECORD_HEADER);
    const problem = checkRecordHeader(buffer, offset, headerSeen, record === 0);
    if (problem) return invalid(problem);
    if (headerSeen < RECORD_HEADER) return INCOMPLETE;
    const length = (buffer[offset + 3]! << 8) | buffer[offset + 4]!;
    // RFC 8446 §5.1: zero-length handshake fragments must not be sent; they would also let a peer make us
    // loop over empty records.
    if (length === 0) return invalid("empty TLS handshake record");
    if (length > TLS_MAX_PLAINTEXT_RECORD) return invalid(`TLS record too long (${length} > ${TLS_MAX_PLAINTEXT_RECORD} bytes)`);
    const start = offset + RECORD_HEADER;
    const fragment = buffer.subarray(start, Math.min(start + length, buffer.length));
    fragments.push(fragment);
    have += fragment.length;

    if (have >= 1 && fragments[0]![0] !== HANDSHAKE_CLIENT_HELLO) {
      return invalid(`first TLS handshake message is type ${fragments[0]![0]}, not ClientHello`);
    }
    if (total < 0 && have >= HANDSHAKE_HEADER) {
      const bodyLength = (byteAt(fragments, 1) << 16) | (byteAt(fragments, 2) << 8) | byteAt(fragments, 3);
      if (bodyLength > CLIENT_HELLO_MAX_LENGTH) return invalid(`ClientHello too long (${bodyLength} > ${CLIENT_HELLO_MAX_LENGTH} bytes)`);
      total = HANDSHAKE_HEADER + bodyLength;
    }
    if (total >= 0 && have >= total) break;
    if (fragment.length < length) return INCOMPLETE; // this record is still arriving
    offset = start + length;
  }
  const first = fragments[0]!;
  if (first.length >= total) return first.subarray(0, total); // the usual case: one record, no copy
  const message = new Uint8Array(total);
  let at = 0;
  for (const fragment of fragments) {
    const take = Math.min(fragment.length, total - at);
    message.set(fragment.subarray(0, take), at);
    at += take;
    if (at === total) break;
  }
  return message;
}

/** Judges the bytes seen of a record header (possibly fewer than 5); undefined when still acceptable. */
function checkRecordHeader(buffer: Uint8Array, offset: number, seen: number, first: boolean): string | undefined {
  if (seen >= 1 && buffer[offset] !== CONTENT_HANDSHAKE) {
    return first
      ? `not a TLS handshake (first byte ${buffer[offset]}, expected ${CONTENT_HANDSHAKE})`
      : `TLS record type ${buffer[offset]} inside the ClientHello`;
  }
  // legacy_record_version: 0x0300 (SSL 3.0) to 0x0304; TLS 1.3 clients send 0x0301 or 0x0303 here.
  if (seen >= 2 && buffer[offset + 1] !== 3) return `not a TLS record (version ${buffer[offset + 1]}.x)`;
  if (seen >= 3 && buffer[offset + 2]! > 4) return `unknown TLS record version 3.${buffer[offset + 2]}`;
  return undefined;
}

function byteAt(fragments: Uint8Array[], index: number): number {
  let i = index;
  for (const fragment of fragments) {
    if (i < fragment.length) return fragment[i]!;
    i -= fragment.length;
  }
  return 0; // not reached: callers check `have` first
}

/**
 * A bounds-checked cursor over one structure. Reads past `end` set `failed` and return 0 / empty, so the
 * walk below can check once per field instead of trusting any length it was given.
 */
class Reader {
  failed = false;
  constructor(
    private readonly bytes: Uint8Array,
    public offset: number,
    public readonly end: number,
  ) {}

  get remaining(): number {
    return this.end - this.offset;
  }

  u8(): number {
    if (this.remaining < 1) return this.fail();
    return this.bytes[this.offset++]!;
  }

  u16(): number {
    if (this.remaining < 2) return this.fail();
    const value = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return value;
  }

  skip(count: number): void {
    if (this.remaining < count) this.fail();
    else this.offset += count;
  }

  /** A sub-reader over the next `length` bytes (the content of a length-prefixed vector). */
  sub(length: number): Reader {
    if (this.remaining < length) {
      this.fail();
      return new Reader(this.bytes, this.offset, this.offset);
    }
    const inner = new Reader(this.bytes, this.offset, this.offset + length);
    this.offset += length;
    return inner;
  }

  private fail(): number {
    this.failed = true;
    this.offset = this.end;
    return 0;
  }
}

function readClientHello(message: Uint8Array): ClientHelloResult {
  const hello = new Reader(message, HANDSHAKE_HEADER, message.length);
  // legacy_version: 0x0303 for TLS 1.2 and 1.3 (the real version is in supported_versions), lower for
  // older clients; anything not 3.x is not TLS.
  const major = hello.u8();
  hello.u8();
  if (hello.failed) return invalid("ClientHello truncated in its version");
  if (major !== 3) return invalid(`ClientHello version ${major}.x is not TLS`);
  hello.skip(32); // random
  const sessionIdLength = hello.u8();
  if (sessionIdLength > 32) return invalid(`ClientHello session id longer than 32 bytes (${sessionIdLength})`);
  hello.skip(sessionIdLength);
  const suitesLength = hello.u16();
  if (!hello.failed && (suitesLength < 2 || suitesLength % 2 !== 0))
    return invalid(`ClientHello cipher suites length ${suitesLength} is not a positive even number`);
  hello.skip(suitesLength);
  const compressionLength = hello.u8();
  if (!hello.failed && compressionLength < 1) return invalid("ClientHello has no compression methods");
  hello.skip(compressionLength);
  if (hello.failed) return invalid("ClientHello truncated before its extensions");
  // RFC 5246 §7.4.1.2: a hello that ends after the compression methods has no extensions (old clients).
  if (hello.remaining === 0) return { kind: "ok", serverName: undefined };

  const extensionsLength = hello.u16();
  if (hello.failed || extensionsLength !== hello.remaining) return invalid("ClientHello extensions length does not match the message");
  const extensions = hello.sub(extensionsLength);
  // RFC 8446 §4.2 / RFC 5246 §7.4.1.4: at most one extension of each type. Refusing repeats matters for
  // routing: two server_name extensions would let two readers of one hello pick different upstreams.
  const seen = new Set<number>();
  let serverName: string | undefined;
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const length = extensions.u16();
    const data = extensions.sub(length);
    if (extensions.failed) return invalid("ClientHello extension overruns the extensions block");
    if (seen.has(type)) return invalid(`ClientHello repeats extension ${type}`);
    seen.add(type);
    if (type === EXTENSION_SERVER_NAME) {
      const name = readServerName(message, data);
      if (typeof name !== "string") return name;
      serverName = name;
    }
  }
  return { kind: "ok", serverName };
}

/** RFC 6066 §3: ServerNameList = ServerName<1..2^16-1>, each { NameType name_type; HostName name }. */
function readServerName(message: Uint8Array, data: Reader): string | ClientHelloResult {
  const listLength = data.u16();
  if (data.failed || listLength !== data.remaining || listLength === 0) return invalid("server_name extension is malformed");
  let hostName: string | undefined;
  while (data.remaining > 0) {
    const nameType = data.u8();
    // Every name type defined so far is a 16-bit-length vector; reading unknown ones the same way skips
    // them (as RFC 3546 laid them out) instead of refusing a future client.
    const length = data.u16();
    const start = data.offset;
    data.skip(length);
    if (data.failed) return invalid("server_name entry overruns the extension");
    if (nameType !== NAME_TYPE_HOST_NAME) continue;
    // "The ServerNameList MUST NOT contain more than one name of the same name_type."
    if (hostName !== undefined) return invalid("server_name has more than one host_name");
    const name = hostNameText(message, start, length);
    if (name === undefined) return invalid("server_name host_name is not a valid DNS name");
    hostName = name;
  }
  return hostName ?? invalid("server_name extension has no host_name");
}

/**
 * RFC 6066: the host_name is an ASCII DNS name "without a trailing dot". Clients still send one now and
 * then, so it is dropped; names are case-insensitive, so the result is lower-case. Only letters, digits,
 * '-' and '_' (seen in real internal names) in labels of 1–63 characters, 253 in all: a name that could not
 * be in DNS cannot route anywhere meaningful, and refusing odd bytes keeps control characters and '*' out
 * of logs and route lookups.
 */
function hostNameText(message: Uint8Array, start: number, length: number): string | undefined {
  let end = start + length;
  if (length > 0 && message[end - 1] === 0x2e) end--;
  if (end === start || end - start > MAX_HOST_NAME) return undefined;
  let text = "";
  let label = 0;
  for (let i = start; i < end; i++) {
    let c = message[i]!;
    if (c === 0x2e) {
      if (label === 0) return undefined;
      label = 0;
    } else {
      const lower = c >= 0x61 && c <= 0x7a;
      const upper = c >= 0x41 && c <= 0x5a;
      const digit = c >= 0x30 && c <= 0x39;
      if (!lower && !upper && !digit && c !== 0x2d && c !== 0x5f) return undefined;
      if (upper) c += 0x20;
      if (++label > 63) return undefined;
    }
    text += String.fromCharCode(c);
  }
  return label === 0 ? undefined : text;
}
