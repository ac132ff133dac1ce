// IP address text <-> bytes for the PROXY protocol. Hand-written (no node:net, no Deno/Bun API) so the same
// code runs on both runtimes and so the grammar is exactly the one the PROXY spec asks for: v1 carries
// "dotted quad" IPv4 and RFC 4291 §2.2 IPv6 text, v2 carries the raw 4 or 16 bytes.

/**
 * Strict dotted quad: four decimal octets 0–255 without leading zeros (as inet_pton reads it). Leading
 * zeros are refused because some parsers read "010" as octal 8: two readers of one header must not
 * disagree about the client's address.
 */
export function parseIPv4(text: string): Uint8Array | undefined {
  if (text.length < 7 || text.length > 15) return undefined;
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // a virtual final "." closes the last octet
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 0x30);
      if (value > 255) return undefined;
      digits++;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** 1–4 hex digits → 0–0xffff, or -1. */
function parseGroup(text: string): number {
  if (text.length === 0 || text.length > 4) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const h = hexValue(text.charCodeAt(i));
    if (h < 0) return -1;
    value = value * 16 + h;
  }
  return value;
}

/** Groups of one side of "::" (or the whole address); an IPv4 tail counts as two groups. */
function parseGroups(text: string, allowIPv4Tail: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (allowIPv4Tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIPv4(part);
      if (!v4) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      continue;
    }
    const g = parseGroup(part);
    if (g < 0) return undefined;
    groups.push(g);
  }
  return groups;
}

/**
 * RFC 4291 §2.2 text: eight 16-bit hex groups, at most one "::" standing for one or more zero groups, and
 * optionally a dotted-quad tail (form 3). No zone ("%eth0") and no brackets: those are not address text.
 */
export function parseIPv6(text: string): Uint8Array | undefined {
  // 45 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", the longest valid form.
  if (text.length < 2 || text.length > 45) return undefined;
  const gap = text.indexOf("::");
  let groups: number[];
  if (gap < 0) {
    const all = parseGroups(text, true);
    if (all?.length !== 8) return undefined;
    groups = all;
  } else {
    if (text.indexOf("::", gap + 1) >= 0) return undefined; // a second "::" (also catches ":::")
    const head = parseGroups(text.slice(0, gap), false);
    const tail = parseGroups(text.slice(gap + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** True for ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), how a dual-stack socket shows an IPv4 peer. */
export function isIPv4Mapped(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < 10; i++) if (bytes[offset + i] !== 0) return false;
  return bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff;
}

/**
 * RFC 5952 canonical text (what inet_ntop and the runtimes print), so the same peer always yields the same
 * string for logs, ACLs and ip-hash: lower-case, no leading zeros, the longest run of two or more zero
 * groups (the first on a tie) as "::", and IPv4-mapped addresses as ::ffff:a.b.c.d (§5).
 */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  if (isIPv4Mapped(bytes, offset)) return `::ffff:${formatIPv4(bytes, offset + 12)}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed (§4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

export type ParsedAddress = { family: 4; bytes: Uint8Array } | { family: 6; bytes: Uint8Array };

/**
 * An address as the runtimes report a peer: "1.2.3.4", "::1", "::ffff:1.2.3.4", possibly with a zone
 * ("fe80::1%eth0") or in brackets. The zone is dropped because neither PROXY version can carry it, and an
 * IPv4-mapped address comes back as IPv4 so that a dual-stack listener still announces TCP4.
 */
export function parseSocketAddress(text: string): ParsedAddress | undefined {
  let t = text;
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const zone = t.indexOf("%");
  if (zone >= 0 && t.includes(":")) t = t.slice(0, zone);
  const v4 = parseIPv4(t);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(t);
  if (!v6) return undefined;
  if (isIPv4Mapped(v6)) return { family: 4, bytes: v6.slice(12) };
  return { family: 6, bytes: v6 };
}

/** IPv4 bytes as ::ffff:a.b.c.d, for a header whose other address is IPv6 (one header, one family). */
export function mapIPv4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(bytes, 12);
  return out;
}
