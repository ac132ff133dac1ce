// parseClientHello (gateway/l4/tls-client-hello.ts via sni.ts): real ClientHellos captured from
// `openssl s_client` by a node:net server, hand-built malformed ones, every prefix, and a fuzz loop.
// The routing table is in l4-sni-routes.test.ts.
import { beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { CLIENT_HELLO_MAX_LENGTH, parseClientHello, TLS_MAX_PLAINTEXT_RECORD } from "../gateway/l4/sni.ts";

const INSTALL = "openssl is not installed; install it with: apt-get install -y openssl";
const haveOpenssl = spawnSync("openssl", ["version"]).status === 0;

/**
 * Runs `openssl s_client -connect 127.0.0.1:PORT ...args` against a server that records what arrives and
 * never answers. s_client sends its whole ClientHello at once and then waits for the server, so the hello
 * is complete once the bytes stop coming (a quiet period, independent of the parser under test).
 */
async function capture(args: string[]): Promise<Uint8Array> {
  if (!haveOpenssl) throw new Error(INSTALL);
  let received = Buffer.alloc(0);
  let lastData = 0;
  const server = createServer((socket) => {
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      lastData = Date.now();
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const child = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, ...args], { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  try {
    const deadline = Date.now() + 10_000;
    while (lastData === 0 || Date.now() - lastData < 300) {
      if (Date.now() > deadline) throw new Error(`no ClientHello from openssl s_client ${args.join(" ")}: ${stderr}`);
      if (child.exitCode !== null && lastData === 0) throw new Error(`openssl s_client ${args.join(" ")} exited: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return new Uint8Array(received);
  } finally {
    const exited = child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", resolve));
    child.kill();
    server.close();
    await exited;
  }
}

/** The TLS record headers in a capture: [content type, length] each (test-side, for checking the split). */
function recordsOf(bytes: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let at = 0; at + 5 <= bytes.length; at += 5 + ((bytes[at + 3]! << 8) | bytes[at + 4]!)) {
    out.push([bytes[at]!, (bytes[at + 3]! << 8) | bytes[at + 4]!]);
  }
  return out;
}

const longName = ["a".repeat(63), "B".repeat(63), "c".repeat(63), "example", "com"].join("."); // 203 characters
const manyProtocols = Array.from({ length: 150 }, (_, i) => `protocol-${i}`).join(",");

const scenarios = {
  default: { args: ["-servername", "db.example.com"], name: "db.example.com" },
  tls12: { args: ["-tls1_2", "-servername", "tls12.example.com"], name: "tls12.example.com" },
  tls13: { args: ["-tls1_3", "-servername", "tls13.example.com"], name: "tls13.example.com" },
  noSni: { args: ["-noservername"], name: undefined },
  ipNoSni: { args: [], name: undefined }, // -connect to an IP literal: no SNI sent
  caseAndDot: { args: ["-servername", "Mixed.Example.COM."], name: "mixed.example.com" },
  fragmented: { args: ["-max_send_frag", "512", "-servername", longName, "-alpn", manyProtocols], name: longName.toLowerCase() },
  fragmented12: { args: ["-tls1_2", "-max_send_frag", "512", "-servername", longName, "-alpn", manyProtocols], name: longName.toLowerCase() },
  fragmentedNoSni: { args: ["-max_send_frag", "512", "-noservername", "-alpn", manyProtocols], name: undefined },
} as const;
type Scenario = keyof typeof scenarios;
const captured = {} as Record<Scenario, Uint8Array>;

beforeAll(async () => {
  if (!haveOpenssl) return;
  const entries = await Promise.all(Object.entries(scenarios).map(async ([key, s]) => [key, await capture([...s.args])] as const));
  for (const [key, bytes] of entries) captured[key as Scenario] = bytes;
}, 30_000);

function hello(key: Scenario): Uint8Array {
  if (!haveOpenssl) throw new Error(INSTALL);
  return captured[key];
}

describe("ClientHellos from openssl s_client", () => {
  test("openssl is installed", () => {
    if (!haveOpenssl) throw new Error(INSTALL);
  });

  for (const [key, scenario] of Object.entries(scenarios) as Array<[Scenario, (typeof scenarios)[Scenario]]>) {
    test(`${scenario.args.filter((a) => a.length < 40).join(" ") || "(IP literal)"}: server name ${scenario.name === undefined ? "none" : scenario.name.length > 40 ? `of ${scenario.name.length} characters` : scenario.name}, incomplete at every prefix`, () => {
      const bytes = hello(key);
      expect(parseClientHello(bytes)).toEqual({ kind: "ok", serverName: scenario.name });
      for (let length = 0; length < bytes.length; length++) {
        const verdict = parseClientHello(bytes.subarray(0, length));
        if (verdict.kind !== "incomplete") throw new Error(`${key}: prefix ${length}/${bytes.length} gave ${JSON.stringify(verdict)}`);
      }
    });
  }

  test("-max_send_frag 512 really split the hellos over several records", () => {
    for (const key of ["fragmented", "fragmented12", "fragmentedNoSni"] as const) {
      const records = recordsOf(hello(key));
      expect(records.length).toBeGreaterThanOrEqual(3);
      for (const [type, length] of records) {
        expect(type).toBe(22);
        expect(length).toBeLessThanOrEqual(512);
      }
    }
    expect(recordsOf(hello("default")).length).toBe(1);
  });

  test("the 1.2 and 1.3 hellos differ where expected (supported_versions only in the 1.3-capable ones)", () => {
    const has = (bytes: Uint8Array, type: number) => findExtension(bytes, type) !== undefined;
    expect(has(hello("tls13"), 43)).toBe(true);
    expect(has(hello("default"), 43)).toBe(true);
    expect(has(hello("tls12"), 43)).toBe(false);
  });

  test("bytes after the ClientHello (the client's next records) do not matter", () => {
    const tail = Uint8Array.of(20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 5, 1, 2, 3, 4, 5, 99);
    for (const key of ["default", "fragmented", "tls12"] as const) {
      const bytes = hello(key);
      const both = new Uint8Array(bytes.length + tail.length);
      both.set(bytes);
      both.set(tail, bytes.length);
      expect(parseClientHello(both)).toEqual({ kind: "ok", serverName: scenarios[key].name });
    }
  });

  test("the same hello re-split into 1-byte and 7-byte records still parses (the header split too)", () => {
    for (const key of ["default", "tls12", "noSni"] as const) {
      const message = messageOf(hello(key));
      for (const size of [1, 7, 100]) expect(parseClientHello(records(message, size))).toEqual({ kind: "ok", serverName: scenarios[key].name });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Hand-built hellos (RFC 8446 §4.1.2 layout) for the malformed cases.

const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const u24 = (n: number) => [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

interface HelloParts {
  version?: number[];
  random?: number[];
  sessionId?: number[];
  suites?: number[];
  compression?: number[];
  /** Extensions as [type, data]; `extensionsRaw` replaces the whole block (length included) when given. */
  extensions?: Array<[number, number[]]>;
  extensionsRaw?: number[];
  noExtensions?: boolean;
  trailing?: number[];
}

function serverNameData(...entries: Array<[number, number[]]>): number[] {
  const list = entries.flatMap(([type, name]) => [type, ...u16(name.length), ...name]);
  return [...u16(list.length), ...list];
}

function body(parts: HelloParts = {}): number[] {
  const sessionId = parts.sessionId ?? new Array(32).fill(7);
  const suites = parts.suites ?? [0x13, 0x01, 0xc0, 0x2f];
  const compression = parts.compression ?? [0];
  const extensions = parts.extensions ?? [
    [0, serverNameData([0, ascii("built.example.com")])],
    [43, [2, 3, 4]],
  ];
  const block = extensions.flatMap(([type, data]) => [...u16(type), ...u16(data.length), ...data]);
  return [
    ...(parts.version ?? [3, 3]),
    ...(parts.random ?? new Array(32).fill(1)),
    sessionId.length,
    ...sessionId,
    ...u16(suites.length),
    ...suites,
    compression.length,
    ...compression,
    ...(parts.noExtensions ? [] : (parts.extensionsRaw ?? [...u16(block.length), ...block])),
    ...(parts.trailing ?? []),
  ];
}

function message(parts: HelloParts = {}, type = 1): Uint8Array {
  const b = body(parts);
  return Uint8Array.from([type, ...u24(b.length), ...b]);
}

/** Wraps a handshake message in handshake records of at most `size` bytes. */
function records(msg: Uint8Array, size = TLS_MAX_PLAINTEXT_RECORD, version = [3, 1]): Uint8Array {
  const out: number[] = [];
  for (let at = 0; at < msg.length; at += size) {
    const fragment = msg.subarray(at, Math.min(at + size, msg.length));
    out.push(22, ...version, ...u16(fragment.length), ...fragment);
  }
  return Uint8Array.from(out);
}

/** The handshake message inside a (possibly multi-record) capture. */
function messageOf(bytes: Uint8Array): Uint8Array {
  const parts: number[] = [];
  for (let at = 0; at + 5 <= bytes.length; ) {
    const length = (bytes[at + 3]! << 8) | bytes[at + 4]!;
    parts.push(...bytes.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return Uint8Array.from(parts.slice(0, 4 + ((parts[1]! << 16) | (parts[2]! << 8) | parts[3]!)));
}

/** Data of the extension of `type` in a captured hello, or undefined (test-side walk). */
function findExtension(bytes: Uint8Array, type: number): Uint8Array | undefined {
  const m = messageOf(bytes);
  let at = 4 + 2 + 32;
  at += 1 + m[at]!;
  at += 2 + ((m[at]! << 8) | m[at + 1]!);
  at += 1 + m[at]!;
  const end = at + 2 + ((m[at]! << 8) | m[at + 1]!);
  for (at += 2; at < end; ) {
    const t = (m[at]! << 8) | m[at + 1]!;
    const length = (m[at + 2]! << 8) | m[at + 3]!;
    if (t === type) return m.subarray(at + 4, at + 4 + length);
    at += 4 + length;
  }
  return undefined;
}

describe("hand-built ClientHellos", () => {
  test("the builder's baseline parses, split or not", () => {
    expect(parseClientHello(records(message()))).toEqual({ kind: "ok", serverName: "built.example.com" });
    expect(parseClientHello(records(message(), 3))).toEqual({ kind: "ok", serverName: "built.example.com" });
    expect(parseClientHello(records(message(), 50, [3, 3]))).toEqual({ kind: "ok", serverName: "built.example.com" });
  });

  test("accepted variations", () => {
    const ok = (parts: HelloParts, serverName: string | undefined) => expect(parseClientHello(records(message(parts)))).toEqual({ kind: "ok", serverName });
    ok({ noExtensions: true }, undefined); // RFC 5246: a hello may end after the compression methods
    ok({ extensions: [] }, undefined);
    ok({ extensions: [[10, [0, 2, 0, 29]]] }, undefined);
    ok({ sessionId: [] }, "built.example.com");
    ok({ version: [3, 1] }, "built.example.com");
    ok({ extensions: [[0, serverNameData([0, ascii("a")])]] }, "a");
    ok({ extensions: [[0, serverNameData([0, ascii("UPPER.Example.ORG.")])]] }, "upper.example.org");
    ok({ extensions: [[0, serverNameData([0, ascii("under_score.example")])]] }, "under_score.example");
    ok({ extensions: [[0, serverNameData([0, ascii("10.1.2.3")])]] }, "10.1.2.3");
    // An unknown name type is skipped by its 16-bit length.
    ok({ extensions: [[0, serverNameData([7, [1, 2, 3]], [0, ascii("after.unknown")])]] }, "after.unknown");
    // The limits themselves.
    const label63 = "x".repeat(63);
    const name253 = [label63, label63, label63, "y".repeat(61)].join(".");
    expect(name253.length).toBe(253);
    ok({ extensions: [[0, serverNameData([0, ascii(name253)])]] }, name253);
    ok({ extensions: [[0, serverNameData([0, ascii(`${name253}.`)])]] }, name253);
    ok(
      {
        extensions: [
          [0xfe0d, new Array(9000).fill(0)],
          [0, serverNameData([0, ascii("big.example")])],
        ],
      },
      "big.example",
    );
    // Record versions 3.0 to 3.4.
    for (const minor of [0, 1, 2, 3, 4]) expect(parseClientHello(records(message(), 100, [3, minor])).kind).toBe("ok");
    // A message at the size bound, over several records.
    const padding = CLIENT_HELLO_MAX_LENGTH - body({ extensions: [[21, []]] }).length;
    const biggest = message({ extensions: [[21, new Array(padding).fill(0)]] });
    expect(biggest.length).toBe(4 + CLIENT_HELLO_MAX_LENGTH);
    expect(parseClientHello(records(biggest))).toEqual({ kind: "ok", serverName: undefined });
  });

  const cases: Array<[string, string, Uint8Array]> = [
    ["an HTTP request", "not a TLS handshake", Uint8Array.from(ascii("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))],
    ["a PROXY header", "not a TLS handshake", Uint8Array.from(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"))],
    ["an SSLv2-style hello", "not a TLS handshake", Uint8Array.from([0x80, 0x2e, 0x01, 0x03, 0x01, 0, 0x15, 0, 0, 0, 0x10])],
    ["an alert record first", "not a TLS handshake", Uint8Array.from([21, 3, 3, 0, 2, 2, 40])],
    ["application data first", "not a TLS handshake", Uint8Array.from([23, 3, 3, 0, 1, 0])],
    ["record version 2.x", "not a TLS record", records(message(), 16384, [2, 0])],
    ["record version 3.5", "unknown TLS record version", records(message(), 16384, [3, 5])],
    ["a zero-length record", "empty TLS handshake record", Uint8Array.from([22, 3, 1, 0, 0, ...records(message())])],
    ["a record over 2^14", "TLS record too long", Uint8Array.from([22, 3, 1, ...u16(TLS_MAX_PLAINTEXT_RECORD + 1)])],
    ["a ServerHello", "not ClientHello", records(message({}, 2))],
    ["a Finished", "not ClientHello", records(message({}, 20))],
    ["a message over 64 KB", "ClientHello too long", Uint8Array.from([22, 3, 1, 0, 4, 1, ...u24(CLIENT_HELLO_MAX_LENGTH + 1)])],
    [
      "an alert between fragments",
      "record type 21 inside",
      (() => {
        const split = records(message(), 20);
        return Uint8Array.from([...split.subarray(0, 25), 21, 3, 3, 0, 2, 2, 40, ...split.subarray(25)]);
      })(),
    ],
    [
      "application data between fragments",
      "record type 23 inside",
      (() => {
        const split = records(message(), 20);
        return Uint8Array.from([...split.subarray(0, 25), 23, 3, 3, 0, 1, 0, ...split.subarray(25)]);
      })(),
    ],
    ["legacy_version 2.0", "is not TLS", records(message({ version: [2, 0] }))],
    ["session id of 33 bytes", "session id", records(message({ sessionId: new Array(33).fill(0) }))],
    ["odd cipher suites length", "cipher suites", records(message({ suites: [0x13, 0x01, 0xc0] }))],
    ["no cipher suites", "cipher suites", records(message({ suites: [] }))],
    ["no compression methods", "compression", records(message({ compression: [] }))],
    ["extensions length too long", "extensions length", records(message({ extensionsRaw: [0, 10, 0, 43, 0, 1, 4] }))],
    ["extensions length too short", "extensions length", records(message({ extensionsRaw: [0, 2, 0, 43, 0, 1, 4] }))],
    ["a lone byte where the extensions length goes", "extensions length", records(message({ extensionsRaw: [0] }))],
    ["an extension overrunning the block", "overruns the extensions block", records(message({ extensionsRaw: [0, 5, 0, 43, 0, 9, 4] }))],
    ["bytes after the extensions", "extensions length", records(message({ trailing: [0] }))],
    [
      "two server_name extensions",
      "repeats extension 0",
      records(
        message({
          extensions: [
            [0, serverNameData([0, ascii("a.example")])],
            [0, serverNameData([0, ascii("b.example")])],
          ],
        }),
      ),
    ],
    [
      "another extension repeated",
      "repeats extension 43",
      records(
        message({
          extensions: [
            [43, [2, 3, 4]],
            [43, [2, 3, 4]],
          ],
        }),
      ),
    ],
    [
      "two host_names in one list",
      "more than one host_name",
      records(message({ extensions: [[0, serverNameData([0, ascii("a.example")], [0, ascii("b.example")])]] })),
    ],
    ["an empty server_name extension", "server_name extension is malformed", records(message({ extensions: [[0, []]] }))],
    ["an empty server name list", "server_name extension is malformed", records(message({ extensions: [[0, [0, 0]]] }))],
    ["a server name list longer than the extension", "server_name extension is malformed", records(message({ extensions: [[0, [0, 9, 0, 0, 1, 0x61]]] }))],
    ["a server name list shorter than the extension", "server_name extension is malformed", records(message({ extensions: [[0, [0, 4, 0, 0, 1, 0x61, 0]]] }))],
    ["a host_name longer than its list", "entry overruns", records(message({ extensions: [[0, [0, 4, 0, 0, 9, 0x61]]] }))],
    ["a list with only an unknown name type", "no host_name", records(message({ extensions: [[0, serverNameData([1, [1, 2]])]] }))],
    ["an empty host_name", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, []])]] }))],
    ["a host_name of one dot", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, ascii(".")])]] }))],
    ["a host_name with an empty label", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, ascii("a..example")])]] }))],
    ["a host_name starting with a dot", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, ascii(".a.example")])]] }))],
    ["a host_name ending in two dots", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, ascii("a.example..")])]] }))],
    ["a host_name with a space", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, ascii("a b.example")])]] }))],
    ["a host_name with a NUL", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, [0x61, 0, 0x62]])]] }))],
    ["a host_name with a '*'", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, ascii("*.example.com")])]] }))],
    ["a host_name with ':' (IPv6 literal)", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, ascii("::1")])]] }))],
    ["a host_name with UTF-8", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, [0x63, 0x61, 0x66, 0xc3, 0xa9]])]] }))],
    ["a 64-character label", "not a valid DNS name", records(message({ extensions: [[0, serverNameData([0, ascii(`${"x".repeat(64)}.example`)])]] }))],
    [
      "a 254-character host_name",
      "not a valid DNS name",
      records(message({ extensions: [[0, serverNameData([0, ascii(["x".repeat(63), "x".repeat(63), "x".repeat(63), "y".repeat(62)].join("."))])]] })),
    ],
  ];
  for (const [name, reason, bytes] of cases) {
    test(`invalid: ${name}`, () => {
      const verdict = parseClientHello(bytes);
      expect(verdict.kind).toBe("invalid");
      expect(verdict.kind === "invalid" ? verdict.reason : "").toContain(reason);
    });
  }

  test("refused from the first bytes that give it away, not after waiting", () => {
    expect(parseClientHello(Uint8Array.of(0x47)).kind).toBe("invalid"); // 'G'
    expect(parseClientHello(Uint8Array.of(22, 2)).kind).toBe("invalid");
    expect(parseClientHello(Uint8Array.of(22, 3, 9)).kind).toBe("invalid");
    expect(parseClientHello(Uint8Array.of(22, 3, 1, 0x40, 1)).kind).toBe("invalid"); // record length 16385
    expect(parseClientHello(Uint8Array.of(22, 3, 1, 0, 50, 2)).kind).toBe("invalid"); // a ServerHello's type byte
    expect(parseClientHello(Uint8Array.of(22, 3, 1, 0, 50, 1, 1, 0, 1)).kind).toBe("invalid"); // 65537-byte body
    expect(parseClientHello(Uint8Array.of(22, 3, 1, 0, 50, 1, 1, 0, 0)).kind).toBe("incomplete"); // 65536 is allowed
    expect(parseClientHello(Uint8Array.of(22, 3, 1, 0, 1, 1, 21)).kind).toBe("invalid"); // an alert in the middle
    expect(parseClientHello(new Uint8Array(0)).kind).toBe("incomplete");
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("fuzz", () => {
  let seed = 0x5eed;
  const random = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

  /** Never throws; ok names are well formed; a verdict reached on a prefix survives more bytes being appended. */
  function check(input: Uint8Array) {
    let verdict;
    try {
      verdict = parseClientHello(input);
    } catch (error) {
      throw new Error(`threw on ${Buffer.from(input).toString("hex")}: ${error}`);
    }
    expect(["ok", "invalid", "incomplete"]).toContain(verdict.kind);
    if (verdict.kind === "ok" && verdict.serverName !== undefined) {
      expect(verdict.serverName).toMatch(NAME);
      expect(verdict.serverName.length).toBeLessThanOrEqual(253);
    }
    const cut = random(input.length + 1);
    const early = parseClientHello(input.subarray(0, cut));
    if (early.kind !== "incomplete" && early.kind !== verdict.kind) {
      throw new Error(`prefix ${cut} said ${JSON.stringify(early)} but the whole said ${JSON.stringify(verdict)}: ${Buffer.from(input).toString("hex")}`);
    }
    if (early.kind === "ok") expect(early as object).toEqual(verdict);
  }

  test("mutations of real hellos never throw and stay consistent", () => {
    const seeds = haveOpenssl ? Object.values(captured) : [];
    if (!haveOpenssl) throw new Error(INSTALL);
    seeds.push(records(message()), records(message(), 9));
    for (let round = 0; round < 30000; round++) {
      const base = seeds[random(seeds.length)]!;
      let bytes = base.slice();
      const mutations = 1 + random(4);
      for (let m = 0; m < mutations; m++) {
        const at = random(bytes.length);
        switch (random(6)) {
          case 0: // flip a bit
            bytes[at] = bytes[at]! ^ (1 << random(8));
            break;
          case 1: // set a byte to an interesting value
            bytes[at] = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x2e][random(7)]!;
            break;
          case 2: // truncate
            bytes = bytes.slice(0, at);
            break;
          case 3: // delete a run
            bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1 + random(16))]);
            break;
          case 4: // insert random bytes
            bytes = Uint8Array.from([...bytes.subarray(0, at), ...Array.from({ length: 1 + random(8) }, () => random(256)), ...bytes.subarray(at)]);
            break;
          case 5: // overwrite a 16-bit length-like pair with a large or small value
            if (at + 1 < bytes.length) {
              const value = [0, 1, 0xffff, 0x4000, 0x4001, random(0x10000)][random(6)]!;
              bytes[at] = value >> 8;
              bytes[at + 1] = value & 0xff;
            }
            break;
        }
      }
      check(bytes);
    }
    // A fixed amount of work (30000 mutations, ~2 s alone): the bound is for a machine busy with other tests.
  }, 30_000);

  test("random bytes (some behind a plausible record header) never throw", () => {
    for (let round = 0; round < 20000; round++) {
      const length = random(300);
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i++) bytes[i] = random(256);
      if (round % 2 === 0 && length >= 9) bytes.set([22, 3, random(5), random(2), random(256), 1, 0, random(2), random(256)]);
      check(bytes);
    }
  });
});
