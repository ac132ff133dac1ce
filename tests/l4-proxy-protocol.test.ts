// PROXY protocol v1/v2 (gateway/l4/proxy-protocol.ts) against HAProxy's proxy-protocol.txt: the expected
// bytes below are written out by hand from the spec's layout, not produced by the code under test. Headers
// from a real HAProxy are in l4-proxy-protocol-haproxy.test.ts.
import { describe, expect, test } from "bun:test";
import { encodeProxyHeader, parseProxyHeader, PROXY_V1_MAX_LENGTH, PROXY_V2_MAX_LENGTH, PROXY_V2_SIGNATURE } from "../gateway/l4/proxy-protocol.ts";
import { formatIPv6, parseIPv4, parseIPv6 } from "../gateway/l4/proxy-protocol-address.ts";

const ascii = (text: string) => new TextEncoder().encode(text);
const bytes = (...parts: Array<number | number[] | Uint8Array | string>) => {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else if (typeof part === "string") out.push(...ascii(part));
    else out.push(...part);
  }
  return Uint8Array.from(out);
};
const concat = (a: Uint8Array, b: Uint8Array) => bytes(a, b);

// Spec §2.2, written out: \x0D \x0A \x0D \x0A \x00 \x0D \x0A \x51 \x55 \x49 \x54 \x0A
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

const v4 = { source: { address: "192.0.2.1", port: 56324 }, destination: { address: "198.51.100.2", port: 443 } };
const v6 = { source: { address: "2001:db8::1", port: 40000 }, destination: { address: "2001:db8:0:1::2", port: 8443 } };

describe("encodeProxyHeader v1", () => {
  test("TCP4: one line, single spaces, CRLF", () => {
    expect(encodeProxyHeader("v1", v4)).toEqual(ascii("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"));
  });

  test("TCP6 with RFC 5952 text (input spelled any valid way)", () => {
    expect(encodeProxyHeader("v1", v6)).toEqual(ascii("PROXY TCP6 2001:db8::1 2001:db8:0:1::2 40000 8443\r\n"));
    const spelled = { source: { address: "2001:0DB8:0000:0000:0000:0000:0000:0001", port: 1 }, destination: { address: "::1", port: 2 } };
    expect(encodeProxyHeader("v1", spelled)).toEqual(ascii("PROXY TCP6 2001:db8::1 ::1 1 2\r\n"));
  });

  test("IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 client) is written as TCP4", () => {
    const mapped = { source: { address: "::ffff:1.2.3.4", port: 5000 }, destination: { address: "::FFFF:10.0.0.1", port: 80 } };
    expect(encodeProxyHeader("v1", mapped)).toEqual(ascii("PROXY TCP4 1.2.3.4 10.0.0.1 5000 80\r\n"));
    const half = { source: { address: "::ffff:1.2.3.4", port: 5000 }, destination: { address: "10.0.0.1", port: 80 } };
    expect(encodeProxyHeader("v1", half)).toEqual(ascii("PROXY TCP4 1.2.3.4 10.0.0.1 5000 80\r\n"));
  });

  test("one IPv4 and one IPv6 address: TCP6 with the IPv4 one mapped (a header has one family)", () => {
    const mixed = { source: { address: "1.2.3.4", port: 5000 }, destination: { address: "2001:db8::9", port: 80 } };
    expect(encodeProxyHeader("v1", mixed)).toEqual(ascii("PROXY TCP6 ::ffff:1.2.3.4 2001:db8::9 5000 80\r\n"));
  });

  test("a zone or brackets around an IPv6 address are dropped, the address kept", () => {
    const zoned = { source: { address: "fe80::1%eth0", port: 1 }, destination: { address: "[fe80::2]", port: 2 } };
    expect(encodeProxyHeader("v1", zoned)).toEqual(ascii("PROXY TCP6 fe80::1 fe80::2 1 2\r\n"));
  });

  test("an address or port that cannot be read: PROXY UNKNOWN", () => {
    for (const bad of [
      { ...v4, source: { address: "999.1.1.1", port: 1 } },
      { ...v4, destination: { address: "localhost", port: 1 } },
      { ...v4, source: { address: "", port: 1 } },
      { ...v4, source: { address: "1.2.3.4", port: 65536 } },
      { ...v4, destination: { address: "1.2.3.4", port: -1 } },
      { ...v4, destination: { address: "1.2.3.4", port: 1.5 } },
      { ...v4, destination: { address: "1.2.3.4", port: Number.NaN } },
    ]) {
      expect(encodeProxyHeader("v1", bad)).toEqual(ascii("PROXY UNKNOWN\r\n"));
    }
  });

  test("the longest possible line fits the spec's 107 bytes", () => {
    const full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const header = encodeProxyHeader("v1", { source: { address: full, port: 65535 }, destination: { address: full, port: 65535 } });
    expect(header.length).toBe(104); // TCP6 is 3 bytes shorter than the spec's UNKNOWN worst case
    expect(header.length).toBeLessThanOrEqual(PROXY_V1_MAX_LENGTH);
  });
});

describe("encodeProxyHeader v2", () => {
  test("TCP over IPv4: signature, 0x21, 0x11, length 12, addresses, ports big-endian", () => {
    expect(encodeProxyHeader("v2", v4)).toEqual(bytes(SIG, 0x21, 0x11, 0x00, 0x0c, [192, 0, 2, 1], [198, 51, 100, 2], [0xdc, 0x04], [0x01, 0xbb]));
  });

  test("TCP over IPv6: 0x21, 0x21, length 36", () => {
    expect(encodeProxyHeader("v2", v6)).toEqual(
      bytes(
        SIG,
        0x21,
        0x21,
        0x00,
        0x24,
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01],
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x02],
        [0x9c, 0x40],
        [0x20, 0xfb],
      ),
    );
  });

  test("IPv4-mapped addresses go out as AF_INET", () => {
    const mapped = { source: { address: "::ffff:127.0.0.1", port: 1 }, destination: { address: "::ffff:127.0.0.2", port: 2 } };
    expect(encodeProxyHeader("v2", mapped)).toEqual(bytes(SIG, 0x21, 0x11, 0x00, 0x0c, [127, 0, 0, 1], [127, 0, 0, 2], [0, 1], [0, 2]));
  });

  test("mixed families: AF_INET6 with the IPv4 address mapped", () => {
    const mixed = { source: { address: "1.2.3.4", port: 1 }, destination: { address: "::1", port: 2 } };
    expect(encodeProxyHeader("v2", mixed)).toEqual(
      bytes(
        SIG,
        0x21,
        0x21,
        0x00,
        0x24,
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0, 1],
        [0, 2],
      ),
    );
  });

  test("unreadable address: a LOCAL header (version 2, command 0, AF_UNSPEC, no addresses)", () => {
    const local = bytes(SIG, 0x20, 0x00, 0x00, 0x00);
    expect(encodeProxyHeader("v2", { ...v4, source: { address: "not-an-ip", port: 1 } })).toEqual(local);
    expect(encodeProxyHeader("v2", { ...v4, destination: { address: "1.2.3.4", port: 70000 } })).toEqual(local);
  });
});

describe("round trips", () => {
  const cases = [
    v4,
    v6,
    { source: { address: "0.0.0.0", port: 0 }, destination: { address: "255.255.255.255", port: 65535 } },
    { source: { address: "::", port: 0 }, destination: { address: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", port: 65535 } },
    { source: { address: "::1", port: 12345 }, destination: { address: "fe80::abcd:1", port: 22 } },
    // Already RFC 5952 text (the parser answers in that form): the longer zero run, the first of two equal ones.
    { source: { address: "1:0:0:2::3", port: 1 }, destination: { address: "1::2:0:0:3:0", port: 2 } },
  ];
  for (const version of ["v1", "v2"] as const) {
    test(`${version}: encode → parse gives the addresses back, and the client's bytes follow`, () => {
      for (const addresses of cases) {
        const header = encodeProxyHeader(version, addresses);
        const payload = ascii("GET / HTTP/1.1\r\n\r\n");
        const parsed = parseProxyHeader(concat(header, payload));
        expect(parsed).toEqual({ kind: "ok", consumed: header.length, ...addresses });
      }
    });
  }

  test("mapped and mixed addresses come back in their announced family", () => {
    const mixed = { source: { address: "1.2.3.4", port: 1 }, destination: { address: "2001:db8::1", port: 2 } };
    for (const version of ["v1", "v2"] as const) {
      expect(parseProxyHeader(encodeProxyHeader(version, mixed))).toMatchObject({
        kind: "ok",
        source: { address: "::ffff:1.2.3.4", port: 1 },
        destination: { address: "2001:db8::1", port: 2 },
      });
    }
  });

  test("the unknown forms round-trip to ok without addresses", () => {
    const bad = { ...v4, source: { address: "x", port: 1 } };
    expect(parseProxyHeader(encodeProxyHeader("v1", bad))).toEqual({ kind: "ok", consumed: 15 });
    expect(parseProxyHeader(encodeProxyHeader("v2", bad))).toEqual({ kind: "ok", consumed: 16 });
  });
});

/** Valid headers of every shape, each parsed in full below and cut at every length. */
const validHeaders: Array<{ name: string; header: Uint8Array; source?: object; destination?: object }> = [
  { name: "v1 TCP4", header: ascii("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"), ...v4 },
  { name: "v1 TCP6", header: ascii("PROXY TCP6 2001:db8::1 2001:db8:0:1::2 40000 8443\r\n"), ...v6 },
  {
    name: "v1 TCP6 with an IPv4 tail, upper case, uncompressed",
    header: ascii("PROXY TCP6 0:0:0:0:0:FFFF:10.1.2.3 2001:DB8:0:0:0:0:0:1 1 2\r\n"),
    source: { address: "::ffff:10.1.2.3", port: 1 },
    destination: { address: "2001:db8::1", port: 2 },
  },
  { name: "v1 UNKNOWN", header: ascii("PROXY UNKNOWN\r\n") },
  {
    name: "v1 UNKNOWN at the 107-byte limit",
    header: ascii("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
  },
  { name: "v1 UNKNOWN followed by anything", header: ascii("PROXY UNKNOWN whatever \t the sender wants\r\n") },
  {
    name: "v1 TCP4 zeros",
    header: ascii("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"),
    source: { address: "0.0.0.0", port: 0 },
    destination: { address: "0.0.0.0", port: 0 },
  },
  {
    name: "v2 IPv4",
    header: bytes(SIG, 0x21, 0x11, 0, 12, [10, 0, 0, 1], [10, 0, 0, 2], [0x30, 0x39], [0, 80]),
    source: { address: "10.0.0.1", port: 12345 },
    destination: { address: "10.0.0.2", port: 80 },
  },
  {
    name: "v2 IPv6",
    header: bytes(
      SIG,
      0x21,
      0x21,
      0,
      36,
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
      [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
      [0, 1],
      [0xff, 0xff],
    ),
    source: { address: "::1", port: 1 },
    destination: { address: "fe80::2", port: 65535 },
  },
  {
    name: "v2 IPv4 with TLVs (ALPN, authority, NOOP padding)",
    header: bytes(
      SIG,
      0x21,
      0x11,
      0,
      12 + 5 + 14 + 5,
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [0, 1],
      [0, 2],
      [0x01, 0, 2],
      "h2",
      [0x02, 0, 11],
      "example.com",
      [0x04, 0, 2, 0, 0],
    ),
    source: { address: "1.2.3.4", port: 1 },
    destination: { address: "5.6.7.8", port: 2 },
  },
  { name: "v2 LOCAL, no addresses", header: bytes(SIG, 0x20, 0x00, 0, 0) },
  { name: "v2 LOCAL with an address block (ignored)", header: bytes(SIG, 0x20, 0x11, 0, 12, [1, 2, 3, 4], [5, 6, 7, 8], [0, 1], [0, 2]) },
  { name: "v2 LOCAL with an odd family byte (ignored)", header: bytes(SIG, 0x20, 0xff, 0, 3, [9, 9, 9]) },
  { name: "v2 PROXY UNSPEC", header: bytes(SIG, 0x21, 0x00, 0, 0) },
  { name: "v2 PROXY UNSPEC with TLVs", header: bytes(SIG, 0x21, 0x00, 0, 5, [0x04, 0, 2, 0, 0]) },
  { name: "v2 PROXY UNIX stream", header: bytes(SIG, 0x21, 0x31, 0, 216, new Uint8Array(216)) },
  { name: "v2 PROXY UNIX dgram", header: bytes(SIG, 0x21, 0x32, 0, 216, new Uint8Array(216)) },
  { name: "v2 at the length bound", header: bytes(SIG, 0x21, 0x00, PROXY_V2_MAX_LENGTH >> 8, PROXY_V2_MAX_LENGTH & 0xff, new Uint8Array(PROXY_V2_MAX_LENGTH)) },
];

describe("parseProxyHeader: valid headers", () => {
  for (const { name, header, source, destination } of validHeaders) {
    test(`${name}: ok, consumed = header, incomplete at every shorter prefix`, () => {
      const trailing = ascii("client bytes");
      const expected = source ? { kind: "ok", consumed: header.length, source, destination } : { kind: "ok", consumed: header.length };
      expect(parseProxyHeader(header)).toEqual(expected as never);
      expect(parseProxyHeader(concat(header, trailing))).toEqual(expected as never);
      for (let length = 0; length < header.length; length++) {
        const verdict = parseProxyHeader(header.subarray(0, length));
        if (verdict.kind !== "incomplete") throw new Error(`${name}: prefix of ${length} bytes gave ${JSON.stringify(verdict)}`);
      }
    });
  }

  test("a client byte that looks like CRLF after the header does not change consumed", () => {
    const header = ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    expect(parseProxyHeader(concat(header, ascii("\r\n\r\n")))).toMatchObject({ kind: "ok", consumed: header.length });
  });
});

describe("parseProxyHeader: invalid input", () => {
  const invalidV1 = [
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
    " PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY UNKNOWNX\r\n",
    "PROXY\r\n",
    "PROXY \r\n",
    "PROXY TCP4\r\n",
    "PROXY TCP4 \r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
    "PROXY TCP4 999.1.1.1 5.6.7.8 1 2\r\n",
    "PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n",
    "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
    "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",
    "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8. 1 2\r\n",
    "PROXY TCP4 -1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
    "PROXY TCP4 localhost 5.6.7.8 1 2\r\n",
    "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
    "PROXY TCP6 ::1 1::2::3 1 2\r\n",
    "PROXY TCP6 ::1 :::1 1 2\r\n",
    "PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n",
    "PROXY TCP6 ::1 1:2:3:4:5:6:7 1 2\r\n",
    "PROXY TCP6 ::1 12345::1 1 2\r\n",
    "PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n",
    "PROXY TCP6 ::1 [::2] 1 2\r\n",
    "PROXY TCP6 ::1 ::g 1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 0x50\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r",
    "PROXY TCP4 1.2.3.4\r\n5.6.7.8 1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u00e9\r\n",
  ];
  for (const text of invalidV1) {
    test(`v1 ${JSON.stringify(text)}`, () => {
      expect(parseProxyHeader(new Uint8Array([...text].map((c) => c.charCodeAt(0)))).kind).toBe("invalid");
    });
  }

  test("refused as soon as the bytes cannot become a header (not waited on)", () => {
    const early: Array<[string, number]> = [
      ["GET / HTTP/1.1", 1],
      ["\x16\x03\x01", 1], // a TLS ClientHello
      ["PROXY TCP4 999", 14],
      ["PROXY TCP4 1.2.3.4  ", 20],
      ["PROXY TCP4 1.2.3.4 5.6.7.8 70000", 32],
      ["PROXY TCP4 1.2.3.4 5.6.7.8 01", 29],
      ["PROXY TCP4 1.2.3.4\r", 19],
      ["PROXY TCP9", 10],
      ["PROXY UNK ", 10],
      ["PROXX", 5],
    ];
    for (const [text, length] of early) {
      const verdict = parseProxyHeader(ascii(text).subarray(0, length));
      expect({ text, kind: verdict.kind }).toEqual({ text, kind: "invalid" });
    }
    // ...while a field that can still grow into a valid one is waited on.
    for (const text of ["PROXY TCP4 1.2.3.25", "PROXY TCP4 1.2.3.4 5.6.7.8 6553", "PROXY TCP6 2001:db8:", "PROXY TCP6 ::ffff:1.2.", "PROXY UNKNOWN"]) {
      expect({ text, kind: parseProxyHeader(ascii(text)).kind }).toEqual({ text, kind: "incomplete" });
    }
  });

  test("a v1 line longer than 107 bytes without CRLF is invalid at byte 107, not before", () => {
    const line = "PROXY UNKNOWN " + "x".repeat(200);
    expect(parseProxyHeader(ascii(line.slice(0, 106))).kind).toBe("incomplete");
    expect(parseProxyHeader(ascii(line.slice(0, 107))).kind).toBe("invalid");
    expect(parseProxyHeader(ascii(line)).kind).toBe("invalid");
    // CRLF ending at byte 108: one too many.
    expect(parseProxyHeader(ascii(line.slice(0, 106) + "\r\n")).kind).toBe("invalid");
    expect(parseProxyHeader(ascii(line.slice(0, 105) + "\r\n"))).toEqual({ kind: "ok", consumed: 107 });
  });

  const goodV2 = bytes(SIG, 0x21, 0x11, 0, 12, [1, 2, 3, 4], [5, 6, 7, 8], [0, 1], [0, 2]);
  const withByte = (index: number, value: number) => {
    const copy = goodV2.slice();
    copy[index] = value;
    return copy;
  };

  test("v2 bad signature: every signature byte changed, refused at that byte", () => {
    for (let i = 0; i < 12; i++) {
      const bad = withByte(i, goodV2[i]! ^ 0x40);
      expect(parseProxyHeader(bad).kind).toBe("invalid");
      expect(parseProxyHeader(bad.subarray(0, i + 1)).kind).toBe("invalid");
      if (i > 0) expect(parseProxyHeader(bad.subarray(0, i)).kind).toBe("incomplete");
    }
  });

  test("v2 version other than 2, unknown commands", () => {
    for (const versionCommand of [0x11, 0x01, 0x31, 0xf1, 0x22, 0x2f, 0x2a]) {
      expect(parseProxyHeader(withByte(12, versionCommand)).kind).toBe("invalid");
      expect(parseProxyHeader(withByte(12, versionCommand).subarray(0, 13)).kind).toBe("invalid");
    }
  });

  test("v2 PROXY with a family a TCP listener cannot use (UDP, unknown, transport missing)", () => {
    for (const family of [0x12, 0x22, 0x10, 0x20, 0x13, 0x01, 0x02, 0x30, 0x33, 0x41, 0x51, 0xf1]) {
      expect({ family, kind: parseProxyHeader(withByte(13, family)).kind }).toEqual({ family, kind: "invalid" });
      expect(parseProxyHeader(withByte(13, family).subarray(0, 14)).kind).toBe("invalid");
    }
  });

  test("v2 length shorter than the family's address block", () => {
    expect(parseProxyHeader(bytes(SIG, 0x21, 0x11, 0, 11, new Uint8Array(11))).kind).toBe("invalid");
    expect(parseProxyHeader(bytes(SIG, 0x21, 0x21, 0, 12, new Uint8Array(12))).kind).toBe("invalid");
    expect(parseProxyHeader(bytes(SIG, 0x21, 0x31, 0, 0)).kind).toBe("invalid");
    expect(parseProxyHeader(bytes(SIG, 0x21, 0x11, 0, 0)).kind).toBe("invalid");
  });

  test("v2 length over the bound is refused from the 16-byte header alone", () => {
    const over = PROXY_V2_MAX_LENGTH + 1;
    expect(parseProxyHeader(bytes(SIG, 0x21, 0x11, over >> 8, over & 0xff)).kind).toBe("invalid");
    expect(parseProxyHeader(bytes(SIG, 0x20, 0x00, 0xff, 0xff)).kind).toBe("invalid");
  });

  test("fuzz: random and mutated bytes never throw, and a verdict reached on a prefix never changes with more bytes", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 30000; round++) {
      let input: Uint8Array;
      if (round % 2 === 0) {
        input = new Uint8Array(random() % 64);
        for (let i = 0; i < input.length; i++) input[i] = random();
      } else {
        // A valid header (and some client bytes) with a few bytes changed, to get past the signature.
        input = concat(validHeaders[round % validHeaders.length]!.header, ascii("data"));
        const changes = 1 + (random() % 3);
        for (let k = 0; k < changes; k++) input[((random() << 8) | random()) % input.length] = [random(), 0x20, 0x0d, 0x0a, 0x30, 0x3a][random() % 6]!;
      }
      const verdict = parseProxyHeader(input);
      expect(["ok", "invalid", "incomplete"]).toContain(verdict.kind);
      if (verdict.kind === "ok") expect(verdict.consumed).toBeLessThanOrEqual(input.length);
      if (input.length > 0 && input[0] !== 0x50 && input[0] !== 0x0d) expect(verdict.kind).toBe("invalid");
      const cut = ((random() << 8) | random()) % (input.length + 1);
      const early = parseProxyHeader(input.subarray(0, cut));
      // The same kind (the reason may name the first problem seen), and for ok the very same result.
      if (early.kind !== "incomplete") expect(early.kind as string).toBe(verdict.kind);
      if (early.kind === "ok") expect(early as object).toEqual(verdict);
    }
  });

  test("empty input is incomplete", () => {
    expect(parseProxyHeader(new Uint8Array(0))).toEqual({ kind: "incomplete" });
  });
});

describe("address text", () => {
  test("IPv4: strict dotted quad", () => {
    expect(parseIPv4("1.2.3.4")).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(parseIPv4("255.255.255.255")).toEqual(Uint8Array.of(255, 255, 255, 255));
    for (const bad of ["", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..2.3", "1.2.3.256", "1.2.3.04", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4", "1e1.2.3.4"]) {
      expect(parseIPv4(bad)).toBeUndefined();
    }
  });

  test("IPv6: RFC 4291 forms in, RFC 5952 text out", () => {
    const pairs: Array<[string, string]> = [
      ["::", "::"],
      ["::1", "::1"],
      ["1::", "1::"],
      ["2001:DB8:0:0:8:800:200C:417A", "2001:db8::8:800:200c:417a"],
      ["ff01:0:0:0:0:0:0:101", "ff01::101"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of two equal runs
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longer run
      ["1:0:0:2:0:0:3:0", "1::2:0:0:3:0"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group stays
      ["::13.1.68.3", "::d01:4403"],
      ["::FFFF:129.144.52.38", "::ffff:129.144.52.38"],
      ["0:0:0:0:0:ffff:1.2.3.4", "::ffff:1.2.3.4"],
    ];
    for (const [input, canonical] of pairs) expect(formatIPv6(parseIPv6(input)!)).toBe(canonical);
    for (const bad of [
      "",
      ":",
      ":::",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      ":1:2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7:8:",
      "12345::",
      "::1.2.3",
      "1.2.3.4::",
      "::1.2.3.4:1",
      "g::",
      "1:2:3:4:5:6:7:1.2.3.4",
      "::ffff:1.2.3.04",
    ]) {
      expect({ bad, parsed: parseIPv6(bad) }).toEqual({ bad, parsed: undefined });
    }
  });

  test("the v2 signature constant is the spec's", () => {
    expect(PROXY_V2_SIGNATURE).toEqual(Uint8Array.from(SIG));
  });
});
