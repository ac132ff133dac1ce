// The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 and 2: a header a proxy sends before the
// client's bytes so the next hop learns the client's real address. `encodeProxyHeader` is for a `tcp`
// listener with `proxyProtocol: "v1" | "v2"` (sending to the upstream); `parseProxyHeader` is for a listener
// that accepts one (e.g. behind a cloud load balancer). Both are pure functions over bytes so the listener
// can call the parser on its growing buffer after every read, on Bun and Deno alike.
import { formatIPv4, formatIPv6, mapIPv4, parseIPv4, parseIPv6, parseSocketAddress } from "./proxy-protocol-address.ts";

export interface ProxyAddress {
  address: string;
  port: number;
}

export interface ProxyAddresses {
  source: ProxyAddress;
  destination: ProxyAddress;
}

export type ProxyHeaderResult =
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string }
  | { kind: "ok"; consumed: number; source?: ProxyAddress; destination?: ProxyAddress };

/** The v2 signature (spec §2.2): starts with "\r\n\r\n\0", which no text protocol (and no v1 line) can. */
export const PROXY_V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);

/** Spec §2.1: the longest v1 line, "PROXY UNKNOWN" plus two full IPv6 addresses and ports, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;

/**
 * Largest v2 length field accepted. The spec allows 65535, but addresses take at most 216 bytes (AF_UNIX)
 * and the defined TLVs (ALPN, authority ≤ 255, unique id ≤ 128, SSL details, CRC, vendor ones) stay well
 * under 1 KB in practice; the bound keeps a garbage length from making the listener buffer 64 KB per
 * connection before giving up.
 */
export const PROXY_V2_MAX_LENGTH = 4096;

const V2_HEADER_LENGTH = 16;
const V2_VERSION = 0x2;
const V2_LOCAL = 0x0;
const V2_PROXY = 0x1;
const V2_FAMILY_UNSPEC = 0x0;
const V2_FAMILY_INET = 0x1;
const V2_FAMILY_INET6 = 0x2;
const V2_FAMILY_UNIX = 0x3;
const V2_TRANSPORT_STREAM = 0x1;
const V2_TRANSPORT_DGRAM = 0x2;
/** Bytes of the address block per family (spec §2.2): two addresses then, for IP, two ports. */
const V2_ADDRESS_LENGTH = [0, 12, 36, 216] as const;

const CR = 0x0d;
const LF = 0x0a;
const V1_PREFIX = "PROXY ";

const encoder = new TextEncoder();

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

/**
 * The header to send before the client's bytes. When both addresses are IPv4 (an IPv4-mapped IPv6 address
 * counts as IPv4, as a dual-stack listener reports IPv4 clients) the header is TCP4 / AF_INET; otherwise
 * TCP6 / AF_INET6, with an IPv4 address written as ::ffff:a.b.c.d because a header has one family. An
 * address or port that cannot be read gives "PROXY UNKNOWN" (v1) or a LOCAL header (v2): the spec's way of
 * saying "use the connection's own endpoints", better than inventing an address.
 */
export function encodeProxyHeader(version: "v1" | "v2", addresses: ProxyAddresses): Uint8Array {
  const source = parseSocketAddress(addresses.source.address);
  const destination = parseSocketAddress(addresses.destination.address);
  const ports = validPort(addresses.source.port) && validPort(addresses.destination.port);
  if (!source || !destination || !ports) return version === "v1" ? encoder.encode("PROXY UNKNOWN\r\n") : v2Local();
  const ipv4 = source.family === 4 && destination.family === 4;
  const sourceBytes = ipv4 || source.family === 6 ? source.bytes : mapIPv4(source.bytes);
  const destinationBytes = ipv4 || destination.family === 6 ? destination.bytes : mapIPv4(destination.bytes);
  const sport = addresses.source.port;
  const dport = addresses.destination.port;

  if (version === "v1") {
    const line = ipv4
      ? `PROXY TCP4 ${formatIPv4(sourceBytes)} ${formatIPv4(destinationBytes)} ${sport} ${dport}\r\n`
      : `PROXY TCP6 ${formatIPv6(sourceBytes)} ${formatIPv6(destinationBytes)} ${sport} ${dport}\r\n`;
    return encoder.encode(line);
  }

  const addressLength = ipv4 ? V2_ADDRESS_LENGTH[V2_FAMILY_INET] : V2_ADDRESS_LENGTH[V2_FAMILY_INET6];
  const out = new Uint8Array(V2_HEADER_LENGTH + addressLength);
  out.set(PROXY_V2_SIGNATURE, 0);
  out[12] = (V2_VERSION << 4) | V2_PROXY;
  out[13] = ((ipv4 ? V2_FAMILY_INET : V2_FAMILY_INET6) << 4) | V2_TRANSPORT_STREAM;
  out[14] = addressLength >> 8;
  out[15] = addressLength & 0xff;
  // src_addr, dst_addr, src_port, dst_port: all in network byte order.
  const size = sourceBytes.length;
  out.set(sourceBytes, 16);
  out.set(destinationBytes, 16 + size);
  out[16 + 2 * size] = sport >> 8;
  out[17 + 2 * size] = sport & 0xff;
  out[18 + 2 * size] = dport >> 8;
  out[19 + 2 * size] = dport & 0xff;
  return out;
}

/** LOCAL, AF_UNSPEC, no address block (spec §2.2: what a sender uses for its own connections). */
function v2Local(): Uint8Array {
  const out = new Uint8Array(V2_HEADER_LENGTH);
  out.set(PROXY_V2_SIGNATURE, 0);
  out[12] = (V2_VERSION << 4) | V2_LOCAL;
  return out;
}

/**
 * Reads a PROXY header (v1 or v2, told apart by the first byte) from the start of what a client sent.
 * "incomplete" means only that these bytes are a prefix of some valid header: the caller reads more (with a
 * timeout and the bounds below) and calls again with the whole buffer. "invalid" comes as soon as no
 * continuation could make a valid header, so a client that does not speak PROXY is refused at once rather
 * than waited on. `consumed` is the header's length: bytes after it belong to the client's stream.
 */
export function parseProxyHeader(buffer: Uint8Array): ProxyHeaderResult {
  if (buffer.length === 0) return { kind: "incomplete" };
  if (buffer[0] === PROXY_V2_SIGNATURE[0]) return parseV2(buffer);
  if (buffer[0] === V1_PREFIX.charCodeAt(0)) return parseV1(buffer);
  return invalid('not a PROXY protocol header (expected "PROXY " or the v2 signature)');
}

function invalid(reason: string): { kind: "invalid"; reason: string } {
  return { kind: "invalid", reason };
}

const INCOMPLETE: ProxyHeaderResult = Object.freeze({ kind: "incomplete" });

// ---------------------------------------------------------------------------------------------------------
// v2 (binary)

function parseV2(buffer: Uint8Array): ProxyHeaderResult {
  const signatureSeen = Math.min(buffer.length, PROXY_V2_SIGNATURE.length);
  for (let i = 0; i < signatureSeen; i++) {
    if (buffer[i] !== PROXY_V2_SIGNATURE[i]) return invalid("bad PROXY v2 signature");
  }
  if (buffer.length < 13) return INCOMPLETE;

  const versionCommand = buffer[12]!;
  const version = versionCommand >> 4;
  const command = versionCommand & 0x0f;
  // Spec: receivers must drop connections presenting unexpected version or command values.
  if (version !== V2_VERSION) return invalid(`unsupported PROXY v2 version ${version}`);
  if (command !== V2_LOCAL && command !== V2_PROXY) return invalid(`unknown PROXY v2 command ${command}`);
  if (buffer.length < 14) return INCOMPLETE;

  const familyTransport = buffer[13]!;
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  // LOCAL: the sender's own connection (e.g. a health check); the spec says to ignore the family and the
  // address block and use the real endpoints, so any family byte is accepted there.
  if (command === V2_PROXY) {
    const problem = checkProxyFamily(family, transport);
    if (problem) return invalid(problem);
  }
  if (buffer.length < V2_HEADER_LENGTH) return INCOMPLETE;

  const length = (buffer[14]! << 8) | buffer[15]!;
  if (length > PROXY_V2_MAX_LENGTH) return invalid(`PROXY v2 header too long (${length} > ${PROXY_V2_MAX_LENGTH} bytes)`);
  const needed = command === V2_PROXY ? V2_ADDRESS_LENGTH[family as 0 | 1 | 2 | 3] : 0;
  if (length < needed) return invalid(`PROXY v2 length ${length} is shorter than the address block (${needed} bytes)`);
  const consumed = V2_HEADER_LENGTH + length;
  if (buffer.length < consumed) return INCOMPLETE;

  // Whatever follows the address block up to `length` is TLVs (ALPN, authority, SSL, CRC...): skipped.
  if (command === V2_LOCAL || (family !== V2_FAMILY_INET && family !== V2_FAMILY_INET6)) return { kind: "ok", consumed };
  const size = family === V2_FAMILY_INET ? 4 : 16;
  const format = family === V2_FAMILY_INET ? formatIPv4 : formatIPv6;
  const ports = V2_HEADER_LENGTH + 2 * size;
  return {
    kind: "ok",
    consumed,
    source: { address: format(buffer, V2_HEADER_LENGTH), port: (buffer[ports]! << 8) | buffer[ports + 1]! },
    destination: { address: format(buffer, V2_HEADER_LENGTH + size), port: (buffer[ports + 2]! << 8) | buffer[ports + 3]! },
  };
}

/** Families a PROXY command may carry on a TCP listener; undefined when acceptable. */
function checkProxyFamily(family: number, transport: number): string | undefined {
  if (family === V2_FAMILY_UNSPEC) {
    // "unknown, unspecified or unsupported protocol": accepted, and the real endpoints are used.
    return transport === 0 ? undefined : `PROXY v2 family UNSPEC with transport ${transport}`;
  }
  if (family === V2_FAMILY_INET || family === V2_FAMILY_INET6) {
    // A TCP listener only relays streams: a UDP (DGRAM) header here means a misconfigured sender.
    return transport === V2_TRANSPORT_STREAM
      ? undefined
      : `PROXY v2 ${family === V2_FAMILY_INET ? "IPv4" : "IPv6"} family with transport ${transport} (not TCP)`;
  }
  if (family === V2_FAMILY_UNIX) {
    // Local sockets have no IP and port to report: accepted without addresses, as LOCAL is.
    return transport === V2_TRANSPORT_STREAM || transport === V2_TRANSPORT_DGRAM ? undefined : `PROXY v2 UNIX family with transport ${transport}`;
  }
  return `unknown PROXY v2 address family ${family}`;
}

// ---------------------------------------------------------------------------------------------------------
// v1 (text)

function parseV1(buffer: Uint8Array): ProxyHeaderResult {
  // The line ends at the first CRLF, which must come within 107 bytes (spec: a receiver reads at most
  // 107 bytes looking for it). A CR followed by anything else can never become a valid line.
  const scan = Math.min(buffer.length, PROXY_V1_MAX_LENGTH);
  let end = -1;
  for (let i = 0; i < scan; i++) {
    if (buffer[i] !== CR) continue;
    if (i + 1 >= buffer.length) break; // CR is the last byte seen: LF may follow
    if (buffer[i + 1] !== LF) return invalid("PROXY v1 line has a CR without LF");
    if (i + 2 > PROXY_V1_MAX_LENGTH) break;
    end = i;
    break;
  }
  const complete = end >= 0;
  if (!complete && buffer.length >= PROXY_V1_MAX_LENGTH) return invalid(`PROXY v1 line longer than ${PROXY_V1_MAX_LENGTH} bytes`);
  // A CR as the last byte seen ends the line's text even before its LF arrives, so the fields can be
  // judged as finished now (and a short line refused now).
  const pendingCR = !complete && buffer[scan - 1] === CR;
  const lineEnd = complete ? end : pendingCR ? scan - 1 : scan;
  const textDone = complete || pendingCR;

  // "PROXY " then the protocol, checked as far as the bytes go.
  const prefixSeen = Math.min(lineEnd, V1_PREFIX.length);
  for (let i = 0; i < prefixSeen; i++) {
    if (buffer[i] !== V1_PREFIX.charCodeAt(i)) return invalid("not a PROXY v1 header");
  }
  if (textDone && lineEnd < V1_PREFIX.length) return invalid("PROXY v1 line too short");

  let line = "";
  for (let i = V1_PREFIX.length; i < lineEnd; i++) line += String.fromCharCode(buffer[i]!);

  const space = line.indexOf(" ");
  const protocol = space < 0 ? line : line.slice(0, space);
  const protocolDone = space >= 0 || textDone;
  if (protocol === "UNKNOWN" && protocolDone) {
    // Spec: after UNKNOWN "the receiver must ignore anything presented before the CRLF is found".
    return complete ? { kind: "ok", consumed: end + 2 } : INCOMPLETE;
  }
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    const prefixOfKnown = !protocolDone && ["TCP4", "TCP6", "UNKNOWN"].some((p) => p.startsWith(protocol));
    return prefixOfKnown ? INCOMPLETE : invalid(`PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN (got ${JSON.stringify(protocol)})`);
  }
  if (!protocolDone) return INCOMPLETE;
  if (space < 0) return invalid("PROXY v1 line has no addresses");

  // Exactly one space between fields, no other whitespace: split on " " and refuse empty fields.
  const fields = line.slice(space + 1).split(" ");
  if (fields.length > 4) return invalid("PROXY v1 line has too many fields");
  const ipv4 = protocol === "TCP4";
  const checks = [ipv4 ? ipv4Field : ipv6Field, ipv4 ? ipv4Field : ipv6Field, portField, portField] as const;
  const names = ["source address", "destination address", "source port", "destination port"] as const;
  for (let i = 0; i < fields.length; i++) {
    const finished = i < fields.length - 1 || textDone;
    if (!checks[i]!(fields[i]!, finished)) return invalid(`PROXY v1 ${names[i]} is not valid (got ${JSON.stringify(fields[i])})`);
  }
  if (textDone && fields.length < 4) return invalid("PROXY v1 line has too few fields");
  if (!complete) return INCOMPLETE;

  const [source, destination, sport, dport] = fields as [string, string, string, string];
  const text = ipv4 ? (a: string) => a : (a: string) => formatIPv6(parseIPv6(a)!);
  return {
    kind: "ok",
    consumed: end + 2,
    source: { address: text(source), port: Number(sport) },
    destination: { address: text(destination), port: Number(dport) },
  };
}

/**
 * A field checker gets the text and whether the field is finished (followed by a space or the CRLF). An
 * unfinished field only has to be a possible beginning of a valid one. Returns false when it cannot be.
 */
type FieldCheck = (text: string, finished: boolean) => boolean;

const ipv4Field: FieldCheck = (text, finished) => {
  if (finished) return parseIPv4(text) !== undefined;
  if (text.length > 15) return false;
  const parts = text.split(".");
  if (parts.length > 4) return false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    // Inner octets are finished; the last may be empty or a valid octet so far (more digits only grow it).
    if (part === "" ? !last : !/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return false;
  }
  return true;
};

const ipv6Field: FieldCheck = (text, finished) => {
  if (finished) return parseIPv6(text) !== undefined;
  // A cheap over-approximation of "prefix of an IPv6 address": the right characters, the right length, no
  // ":::" and at most one "::". Anything it lets through is refused once the field is finished.
  if (text.length > 45 || !/^[0-9A-Fa-f:.]*$/.test(text) || text.includes(":::")) return false;
  const gap = text.indexOf("::");
  return gap < 0 || text.indexOf("::", gap + 1) < 0;
};

const portField: FieldCheck = (text, finished) => {
  if (text === "") return !finished;
  // Decimal 0–65535; no leading zeros, so one port has one spelling.
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return false;
  return Number(text) <= 65535;
};
