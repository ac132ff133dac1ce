// Address ranges as a config writes them — CIDRs such as "10.0.0.0/8" and "fd00::/8", or single addresses
// ("192.0.2.7", "::1") — parsed once, when the config is loaded, into a set that answers per request whether a
// client's address is in it. Only the client's address is read per request (and the last one is remembered:
// the connections of one proxy come from one address). An IPv4 client seen through an IPv6 socket
// ("::ffff:192.0.2.7") is the IPv4 address.

/** One range: the network's first address and how many leading bits must match. */
export interface Cidr {
  readonly family: 4 | 6;
  /** IPv4: one 32-bit number; IPv6: eight 16-bit groups. */
  readonly address: readonly number[];
  readonly prefix: number;
}

/** "a.b.c.d" as a 32-bit number (unsigned), or -1. Leading zeros are refused: some resolvers read "010" as octal. */
function parseIPv4(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4) return -1;
  let value = 0;
  for (const part of parts) {
    if (!/^(?:0|[1-9]\d{0,2})$/.test(part)) return -1;
    const octet = Number(part);
    if (octet > 255) return -1;
    value = value * 256 + octet;
  }
  return value;
}

/** An IPv6 address (RFC 4291 §2.2 text forms, an IPv4 tail included, a zone id ignored) as eight groups, or undefined. */
function parseIPv6(text: string): number[] | undefined {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece);
        if (v4 < 0) return undefined;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(piece)) out.push(parseInt(piece, 16));
      else return undefined;
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  if (head === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const tail = groupsOf(halves[1]!);
  if (tail === undefined || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** An address as family and value: IPv4-mapped IPv6 addresses are IPv4. */
function parseAddress(text: string): { family: 4; value: number } | { family: 6; groups: number[] } | undefined {
  if (!text.includes(":")) {
    const v4 = parseIPv4(text);
    return v4 < 0 ? undefined : { family: 4, value: v4 };
  }
  const groups = parseIPv6(text);
  if (groups === undefined) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return { family: 4, value: groups[6]! * 65536 + groups[7]! };
  return { family: 6, groups };
}

/** The first `prefix` bits of a 32-bit number (as an unsigned number). */
function maskV4(value: number, prefix: number): number {
  return prefix === 0 ? 0 : (value & (0xffffffff << (32 - prefix))) >>> 0;
}

/** `text` as a range ("10.0.0.0/8", "::1/128", or one address: /32, /128), or undefined when it is not one. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  if (prefixText !== undefined && !/^(?:0|[1-9]\d{0,2})$/.test(prefixText)) return undefined;
  const parsed = addressText.includes("%") ? undefined : parseAddress(addressText);
  if (parsed === undefined) return undefined;
  if (parsed.family === 4) {
    // A mapped address written as IPv6 ("::ffff:10.0.0.0/104") keeps its IPv6 prefix length.
    const mapped = addressText.includes(":");
    const prefix = prefixText === undefined ? 32 : Number(prefixText) - (mapped ? 96 : 0);
    if (prefix < 0 || prefix > 32) return undefined;
    return { family: 4, address: [maskV4(parsed.value, prefix)], prefix };
  }
  const prefix = prefixText === undefined ? 128 : Number(prefixText);
  if (prefix > 128) return undefined;
  const address = parsed.groups.map((group, i) => {
    const bits = Math.min(16, Math.max(0, prefix - 16 * i));
    return bits === 0 ? 0 : group & ((0xffff << (16 - bits)) & 0xffff);
  });
  return { family: 6, address, prefix };
}

function contains(range: Cidr, address: NonNullable<ReturnType<typeof parseAddress>>): boolean {
  if (address.family === 4) return range.family === 4 && maskV4(address.value, range.prefix) === range.address[0];
  if (range.family !== 6) return false;
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, range.prefix - 16 * i));
    if (bits === 0) return true;
    if ((address.groups[i]! & ((0xffff << (16 - bits)) & 0xffff)) !== range.address[i]) return false;
  }
  return true;
}

/** A set of address ranges, built once from config text (every entry must pass parseCidr). */
export class AddressSet {
  private readonly ranges: readonly Cidr[];
  private lastAddress = "";
  private lastAnswer = false;

  constructor(entries: readonly string[]) {
    this.ranges = entries.map((entry) => {
      const range = parseCidr(entry);
      if (range === undefined) throw new Error(`not an address or CIDR: ${entry}`);
      return range;
    });
  }

  /** Whether the address (as a socket reports it) is in one of the ranges; false for anything that is not an address. */
  has(address: string): boolean {
    if (address === this.lastAddress) return this.lastAnswer;
    const parsed = this.ranges.length === 0 ? undefined : parseAddress(address);
    const answer = parsed !== undefined && this.ranges.some((range) => contains(range, parsed));
    this.lastAddress = address;
    this.lastAnswer = answer;
    return answer;
  }
}
