// The client address as a rate-limit key. An IPv4 address is one client. An IPv6 client usually holds a
// whole /64 (or more) and can pick a new address for every request, so IPv6 addresses are counted by their
// leading `prefixBits`: counting per address would let one host walk around its limit. An IPv4 address in
// IPv6 form (::ffff:192.0.2.1, what dual-stack sockets report) is the IPv4 client it names.

/** The key of a client address: IPv4 as written, IPv6 as its prefix (`2001:db8:0:1::/64`). */
export function clientAddressKey(address: string, prefixBits: number): string {
  if (address.indexOf(":") === -1) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address; // not an address we can read: counted as written, never exempt
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  let bits = prefixBits;
  const kept: string[] = [];
  for (const group of groups) {
    const take = Math.max(0, Math.min(16, bits));
    bits -= 16;
    kept.push((take === 0 ? 0 : group & (0xffff << (16 - take)) & 0xffff).toString(16));
  }
  return `${kept.join(":")}/${prefixBits}`;
}

/** The eight 16-bit groups of an IPv6 address (with `::`, a zone `%eth0`, or a dotted IPv4 tail), or undefined. */
export function ipv6Groups(text: string): number[] | undefined {
  const zone = text.indexOf("%");
  const address = zone === -1 ? text : text.slice(0, zone);
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function groupsOf(part: string): number[] | undefined {
  if (part === "") return [];
  const groups: number[] = [];
  const pieces = part.split(":");
  for (const [i, piece] of pieces.entries()) {
    if (i === pieces.length - 1 && piece.includes(".")) {
      const octets = piece.split(".");
      if (octets.length !== 4 || !octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)) return undefined;
      const [a, b, c, d] = octets.map(Number) as [number, number, number, number];
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
      groups.push(parseInt(piece, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}
