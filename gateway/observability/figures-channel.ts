// With `--workers`, /metrics (served by the primary) sums the figures of every process. Each worker opens one
// loopback TCP connection to the primary at start and keeps it; when /metrics is scraped the primary asks every
// worker on its connection and each answers with its figures as one JSON line. Nothing crosses it per request:
// the workers count in their own memory and are asked only at scrape time (a worker that does not answer within
// a second is left out of that scrape, and sluice_worker_processes says how many did).
//
// The primary listens on 127.0.0.1 on a port the kernel picks; a worker learns it, and a random token it must
// present first, from its environment (FIGURES_ENV). Connections without the token are closed.
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import type { SocketRuntime, TcpHandlers, TcpSocket } from "../runtime/sockets.ts";
import type { Figures } from "./exposition.ts";

/** "PORT TOKEN": where a worker finds the primary's channel. */
export const FIGURES_ENV = "SLUICE_FIGURES";

/** How long a scrape waits for the workers' answers. */
const ANSWER_TIMEOUT_MS = 1_000;
/** How long a new connection has to present the token. */
const HELLO_TIMEOUT_MS = 2_000;
/** The longest line read before the token was shown, and after it (a worker's figures). */
const MAX_HELLO_BYTES = 256;
const MAX_LINE_BYTES = 64 * 1024 * 1024;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Splits a byte stream into lines; refuses a line longer than the current limit. */
class LineReader {
  private parts: Uint8Array[] = [];
  private size = 0;
  limit = MAX_HELLO_BYTES;

  /** The complete lines in `chunk` (with what came before it), or undefined when a line ran past the limit. */
  push(chunk: Uint8Array): string[] | undefined {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
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

/** One worker's connection, as the primary holds it. */
class WorkerLink implements TcpHandlers {
  socket!: TcpSocket;
  private readonly reader = new LineReader();
  private trusted = false;
  private readonly waiting = new Map<number, (figures: Figures | undefined) => void>();
  private readonly helloTimer: ReturnType<typeof setTimeout>;

  constructor(private readonly hub: FiguresHub) {
    this.helloTimer = setTimeout(() => this.socket?.destroy(), HELLO_TIMEOUT_MS);
  }

  ask(id: number): Promise<Figures | undefined> {
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.write(encoder.encode(`${JSON.stringify({ ask: id })}\n`));
    });
  }

  forget(id: number): void {
    this.waiting.get(id)?.(undefined);
    this.waiting.delete(id);
  }

  data(chunk: Uint8Array): void {
    const lines = this.reader.push(chunk);
    if (!lines) return this.socket.destroy();
    for (const line of lines) {
      let message: { hello?: string; answer?: number; figures?: Figures };
      try {
        message = JSON.parse(line);
      } catch {
        return this.socket.destroy();
      }
      if (!this.trusted) {
        if (typeof message?.hello !== "string" || !this.hub.accepts(message.hello)) return this.socket.destroy();
        this.trusted = true;
        this.reader.limit = MAX_LINE_BYTES;
        clearTimeout(this.helloTimer);
        this.hub.joined(this);
        continue;
      }
      const resolve = typeof message?.answer === "number" ? this.waiting.get(message.answer) : undefined;
      if (resolve && message.figures && typeof message.figures === "object") {
        this.waiting.delete(message.answer!);
        resolve(message.figures);
      }
    }
  }

  drain(): void {}
  end(): void {
    this.socket.destroy();
  }
  close(): void {
    clearTimeout(this.helloTimer);
    this.hub.left(this);
    for (const resolve of this.waiting.values()) resolve(undefined);
    this.waiting.clear();
  }
}

/** The primary's end: the workers' connections, asked at scrape time. */
export class FiguresHub {
  private readonly links = new Set<WorkerLink>();
  private asked = 0;
  private server: { port: number; stop(): void } | undefined;
  private readonly token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");

  static async open(sockets: SocketRuntime): Promise<FiguresHub> {
    const hub = new FiguresHub();
    hub.server = await sockets.listenTcp({
      hostname: "127.0.0.1",
      port: 0,
      accept: (socket) => {
        const link = new WorkerLink(hub);
        link.socket = socket;
        return link;
      },
    });
    return hub;
  }

  /** The value of FIGURES_ENV for the workers. */
  get env(): string {
    return `${this.server!.port} ${this.token}`;
  }

  accepts(token: string): boolean {
    const given = Buffer.from(token);
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  joined(link: WorkerLink): void {
    this.links.add(link);
  }

  left(link: WorkerLink): void {
    this.links.delete(link);
  }

  /** Every connected worker's figures: those that answered within the timeout. */
  async collect(timeoutMs = ANSWER_TIMEOUT_MS): Promise<Figures[]> {
    const id = ++this.asked;
    const links = [...this.links];
    const timer = setTimeout(() => links.forEach((link) => link.forget(id)), timeoutMs);
    const answers = await Promise.all(links.map((link) => link.ask(id)));
    clearTimeout(timer);
    return answers.filter((figures): figures is Figures => figures !== undefined);
  }

  close(): void {
    this.server?.stop();
    for (const link of this.links) link.socket.destroy();
  }
}

/**
 * A worker's end: connect to the primary named in FIGURES_ENV and answer its questions with `figures()`. A
 * worker that cannot reach it serves on; its figures are then missing from /metrics (and it says so once).
 */
export async function answerPrimary(sockets: SocketRuntime, env: string, figures: () => Figures, report: (line: string) => void): Promise<void> {
  const [port, token] = env.split(" ");
  const reader = new LineReader();
  reader.limit = MAX_LINE_BYTES;
  let socket: TcpSocket;
  const handlers: TcpHandlers = {
    data(chunk) {
      const lines = reader.push(chunk);
      if (!lines) return socket.destroy();
      for (const line of lines) {
        let message: { ask?: number };
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        if (typeof message?.ask !== "number") continue;
        socket.write(encoder.encode(`${JSON.stringify({ answer: message.ask, figures: figures() })}\n`));
      }
    },
    drain() {},
    end() {
      socket.destroy();
    },
    close() {},
  };
  try {
    socket = await sockets.connectTcp({ hostname: "127.0.0.1", port: Number(port), timeoutMs: 5_000 }, handlers);
  } catch (error) {
    report(`sluice: cannot reach the primary process for /metrics (${(error as Error)?.message ?? error}): this worker's figures are left out`);
    return;
  }
  socket.write(encoder.encode(`${JSON.stringify({ hello: token })}\n`));
}
