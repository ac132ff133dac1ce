// A small authoritative DNS server on 127.0.0.1 (UDP) for tests: it answers A, AAAA and SRV questions from a
// record table the test changes while it runs. Names it does not know get NXDOMAIN; a known name without
// records of the asked type gets an empty answer. Only the few bytes of the wire format (RFC 1035 §4) a
// resolver needs are written here.
import { createSocket, type Socket } from "node:dgram";

export interface DnsRecords {
  /** IPv4 addresses, dotted. */
  a?: string[];
  /** IPv6 addresses, full or compressed. */
  aaaa?: string[];
  /** SRV records: target name, port, weight and priority. */
  srv?: { target: string; port: number; weight?: number; priority?: number }[];
  /** Seconds the answer may be cached. */
  ttl?: number;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPE_SRV = 33;

export class TestDnsServer {
  /** Records by lower-case name, without the trailing dot. Change them at will. */
  readonly records = new Map<string, DnsRecords>();
  /** While true, every question is answered SERVFAIL (a name server that is up but cannot answer). */
  failing = false;
  /** Questions answered so far, as "name TYPE". */
  readonly questions: string[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {}

  static async start(): Promise<TestDnsServer> {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const server = new TestDnsServer(socket, socket.address().port);
    socket.on("message", (query, from) => {
      const answer = server.answer(query);
      if (answer) socket.send(answer, from.port, from.address);
    });
    return server;
  }

  /** `127.0.0.1:PORT`, as `resolver.servers` takes it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  set(name: string, records: DnsRecords): void {
    this.records.set(name.toLowerCase(), records);
  }

  /** How many questions about `name` came so far (any type). */
  asked(name: string): number {
    return this.questions.filter((q) => q.startsWith(`${name.toLowerCase()} `)).length;
  }

  /** Stop answering (and listening); closing twice is harmless. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
  private closed = false;

  private answer(query: Buffer): Buffer | undefined {
    if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
    // The question: labels up to a zero byte, then type and class.
    const labels: string[] = [];
    let at = 12;
    while (at < query.length && query[at] !== 0) {
      const length = query[at]!;
      labels.push(query.subarray(at + 1, at + 1 + length).toString("latin1"));
      at += 1 + length;
    }
    const questionEnd = at + 5;
    if (questionEnd > query.length) return undefined;
    const type = query.readUInt16BE(at + 1);
    const name = labels.join(".").toLowerCase();
    this.questions.push(`${name} ${type === TYPE_A ? "A" : type === TYPE_AAAA ? "AAAA" : type === TYPE_SRV ? "SRV" : type}`);
    const records = this.records.get(name);
    const rdatas = !records
      ? []
      : type === TYPE_A
        ? (records.a ?? []).map(ipv4Bytes)
        : type === TYPE_AAAA
          ? (records.aaaa ?? []).map(ipv6Bytes)
          : type === TYPE_SRV
            ? (records.srv ?? []).map(srvBytes)
            : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0); // the query's id
    // QR, AA, RD copied, RA; RCODE 2 (SERVFAIL) while failing, 3 (NXDOMAIN) for an unknown name.
    const rcode = this.failing ? 2 : records ? 0 : 3;
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(this.failing ? 0 : rdatas.length, 6);
    const answers = rdatas.map((rdata) => {
      const rr = Buffer.alloc(12 + rdata.length);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4); // class IN
      rr.writeUInt32BE(records?.ttl ?? 1, 6);
      rr.writeUInt16BE(rdata.length, 10);
      rdata.copy(rr, 12);
      return rr;
    });
    return Buffer.concat([header, query.subarray(12, questionEnd), ...(this.failing ? [] : answers)]);
  }
}

/** Priority, weight, port, then the target as labels (not compressed). */
function srvBytes(record: { target: string; port: number; weight?: number; priority?: number }): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(record.priority ?? 10, 0);
  fixed.writeUInt16BE(record.weight ?? 1, 2);
  fixed.writeUInt16BE(record.port, 4);
  const labels = record.target
    .split(".")
    .filter(Boolean)
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, "latin1")]));
  return Buffer.concat([fixed, ...labels, Buffer.from([0])]);
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split(".").map(Number));
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.includes("::") ? address.split("::") : [address, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return bytes;
}
