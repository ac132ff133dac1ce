// The channel between the primary and its `--workers` processes. Each worker opens one loopback TCP connection to
// the primary at start and keeps it; over it the primary asks questions (messages.ts) and pushes the servers'
// shared state. Nothing crosses it per request: workers count in their own memory and are asked when /metrics or
// /status is read, or when the operator changes a server.
//
// It is an inside door, so it is kept narrow: the primary listens on 127.0.0.1 on a port the kernel picks, and a
// worker learns it, with a random token it must present first, from its environment (CHANNEL_ENV). A connection
// that does not show the token within two seconds, in a short first line, is closed. Every line is bounded (a
// line past its limit closes the connection) and every message is checked for its shape before it is used.
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import type { SocketRuntime, TcpHandlers, TcpSocket } from "../runtime/sockets.ts";
import { asHello, asToPrimary, asToWorker, type Question, type SharedServerState, type ToWorker } from "./messages.ts";

/** "PORT TOKEN": where a worker finds the primary's channel. */
export const CHANNEL_ENV = "SLUICE_CHANNEL";

/** How long a new connection has to present the token. */
const HELLO_TIMEOUT_MS = 2_000;
/** The longest first line (the token). */
const MAX_HELLO_BYTES = 256;
/** The longest answer a worker may send (its figures grow with routes, status codes and servers). */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** The longest message the primary may send (a question, or the state of every server). */
const MAX_PUSH_BYTES = 8 * 1024 * 1024;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Splits a byte stream into lines; refuses a line longer than the current limit. */
class LineReader {
  private parts: Uint8Array[] = [];
  private size = 0;

  constructor(public limit: number) {}

  /** The complete lines in `chunk` (with what came before it), or undefined when a line ran past the limit. */
  push(chunk: Uint8Array): string[] | undefined {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.size += nl - start;
      if (this.size > this.limit) return undefined;
      this.parts.push(chunk.subarray(start, nl));
      lines.push(decoder.decode(Buffer.concat(this.parts)));
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.parts.push(chunk.slice(start));
      this.size += chunk.length - start;
    }
    return this.size > this.limit ? undefined : lines;
  }
}

function parse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function send(socket: TcpSocket, message: unknown): void {
  socket.write(encoder.encode(`${JSON.stringify(message)}\n`));
}

/** One worker's connection, as the primary holds it. */
export class WorkerLink implements TcpHandlers {
  socket!: TcpSocket;
  /** The worker's number (1…N) and process id, from its first line. */
  worker = 0;
  pid = 0;
  private readonly reader = new LineReader(MAX_HELLO_BYTES);
  private trusted = false;
  private asked = 0;
  private readonly waiting = new Map<number, (value: unknown) => void>();
  private readonly helloTimer: ReturnType<typeof setTimeout>;

  constructor(private readonly channel: PrimaryChannel) {
    this.helloTimer = setTimeout(() => this.socket?.destroy(), HELLO_TIMEOUT_MS);
  }

  /** Ask the worker; undefined when it does not answer within `timeoutMs` or goes away (the answer is unchecked). */
  ask(question: Question, timeoutMs: number): Promise<unknown> {
    const id = ++this.asked;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, undefined), timeoutMs);
      this.waiting.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      send(this.socket, { ask: id, question } satisfies ToWorker);
    });
  }

  /** Tell the worker the servers' state (whole when it joins, else what changed). */
  push(servers: SharedServerState[], whole: boolean): void {
    send(this.socket, { servers, whole } satisfies ToWorker);
  }

  private settle(id: number, value: unknown): void {
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    resolve?.(value);
  }

  data(chunk: Uint8Array): void {
    const lines = this.reader.push(chunk);
    if (!lines) return this.socket.destroy();
    for (const line of lines) {
      if (!this.trusted) {
        const hello = asHello(parse(line));
        if (!hello || !this.channel.accepts(hello.hello)) return this.socket.destroy();
        this.trusted = true;
        this.worker = hello.worker;
        this.pid = hello.pid;
        this.reader.limit = MAX_ANSWER_BYTES;
        clearTimeout(this.helloTimer);
        this.channel.joined(this);
        continue;
      }
      const message = asToPrimary(parse(line));
      if (!message) return this.socket.destroy();
      this.settle(message.answer, message.value);
    }
  }

  drain(): void {}
  end(): void {
    this.socket.destroy();
  }
  close(): void {
    clearTimeout(this.helloTimer);
    if (this.trusted) this.channel.left(this);
    for (const id of [...this.waiting.keys()]) this.settle(id, undefined);
  }
}

export interface ChannelEvents {
  /** A worker showed the token: it may be asked and pushed to from now on. */
  joined(link: WorkerLink): void;
  /** Its connection closed (the worker exited, or broke the rules). */
  left(link: WorkerLink): void;
}

/** The primary's end: listens on loopback for its workers' connections. */
export class PrimaryChannel {
  private readonly links = new Set<WorkerLink>();
  private server: { port: number; stop(): void } | undefined;
  private readonly token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");

  private constructor(private readonly events: ChannelEvents) {}

  static async open(sockets: SocketRuntime, events: ChannelEvents = { joined() {}, left() {} }): Promise<PrimaryChannel> {
    const channel = new PrimaryChannel(events);
    channel.server = await sockets.listenTcp({
      hostname: "127.0.0.1",
      port: 0,
      accept: (socket) => {
        const link = new WorkerLink(channel);
        link.socket = socket;
        return link;
      },
    });
    return channel;
  }

  /** The value of CHANNEL_ENV for the workers. */
  get env(): string {
    return `${this.server!.port} ${this.token}`;
  }

  /** The workers that showed the token and are still connected. */
  get connected(): WorkerLink[] {
    return [...this.links];
  }

  accepts(token: string): boolean {
    const given = Buffer.from(token);
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  joined(link: WorkerLink): void {
    this.links.add(link);
    this.events.joined(link);
  }

  left(link: WorkerLink): void {
    if (this.links.delete(link)) this.events.left(link);
  }

  close(): void {
    this.server?.stop();
    for (const link of this.links) link.socket.destroy();
  }
}

/** What a worker does with what the primary sends. */
export interface WorkerSide {
  /** The answer to a question (figures, this process's view, the result of a change). */
  answer(question: Question): unknown;
  /** The servers' state as the primary holds it (whole when this worker joined). */
  follow(servers: SharedServerState[], whole: boolean): void;
}

/**
 * A worker's end: connect to the primary named in CHANNEL_ENV, say who it is, and answer and follow what it sends.
 * Resolves once connected; rejects when the primary cannot be reached.
 */
export async function connectToPrimary(sockets: SocketRuntime, env: string, me: { worker: number; pid: number }, side: WorkerSide): Promise<void> {
  const [port, token] = env.split(" ");
  const reader = new LineReader(MAX_PUSH_BYTES);
  let socket: TcpSocket;
  const handlers: TcpHandlers = {
    data(chunk) {
      const lines = reader.push(chunk);
      if (!lines) return socket.destroy();
      for (const line of lines) {
        const message = asToWorker(parse(line));
        if (!message) continue; // from a newer primary, perhaps: not for this worker to judge
        if ("ask" in message) send(socket, { answer: message.ask, value: side.answer(message.question) });
        else side.follow(message.servers, message.whole);
      }
    },
    drain() {},
    end() {
      socket.destroy();
    },
    close() {},
  };
  socket = await sockets.connectTcp({ hostname: "127.0.0.1", port: Number(port), timeoutMs: 5_000 }, handlers);
  send(socket, { hello: token ?? "", worker: me.worker, pid: me.pid });
}
