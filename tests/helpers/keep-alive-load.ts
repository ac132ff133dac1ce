// A steady load of GETs from many keep-alive clients at once, each on a raw socket of its own, with every
// outcome told apart: an answer (status, which upstream), a connection cut after part of an answer, a
// connection closed before any byte of it, a refused connect. Answers must carry a Content-Length (the
// gateway's own and the test upstreams' do). A client whose answer says `Connection: close` opens a new
// connection for its next request, as any HTTP client does.
import { connect, type Socket } from "node:net";

export interface LoadTally {
  /** Answers by status. */
  readonly statuses: Map<number, number>;
  /** 200 answers by the upstream that gave them (`x-upstream`). */
  readonly upstreams: Map<string, number>;
  /** Requests whose connection closed before any byte of the answer. */
  closedBeforeAnswer: number;
  /** Requests whose connection closed after part of the answer. */
  cutMidAnswer: number;
  /** Connects refused (or failed). */
  refused: number;
  /** Requests with no whole answer within the per-request deadline. */
  hung: number;
  /** Answers in all. */
  answered: number;
  /** What went wrong, a line per case (the first 20). */
  readonly problems: string[];
}

export interface LoadOptions {
  /** Clients, each with one request in flight at a time. */
  clients: number;
  /** The request target of each request (default "/"). */
  target?: () => string;
  /** How long one request may take before it counts as hung (default 10 s). */
  requestTimeoutMs?: number;
}

export interface KeepAliveLoad {
  readonly tally: LoadTally;
  /** Non-200 answers, cuts, closes before an answer, refusals and hung requests, counted together. */
  failures(): number;
  /** Send no new request; resolves once every client's request in flight has its outcome. */
  stop(): Promise<LoadTally>;
}

export function startKeepAliveLoad(port: number, options: LoadOptions): KeepAliveLoad {
  const tally: LoadTally = {
    statuses: new Map(),
    upstreams: new Map(),
    closedBeforeAnswer: 0,
    cutMidAnswer: 0,
    refused: 0,
    hung: 0,
    answered: 0,
    problems: [],
  };
  const note = (line: string) => void (tally.problems.length < 20 && tally.problems.push(line));
  let stopping = false;
  const target = options.target ?? (() => "/");
  const timeoutMs = options.requestTimeoutMs ?? 10_000;

  const client = async () => {
    let socket: Connection | undefined;
    while (!stopping) {
      if (!socket) {
        try {
          socket = await Connection.open(port);
        } catch (error) {
          tally.refused++;
          note(`connect: ${(error as Error).message}`);
          // A refused connect repeats at once otherwise: give the gateway a moment.
          await Bun.sleep(20);
          continue;
        }
      }
      const path = target();
      const outcome = await socket.get(path, timeoutMs);
      if (outcome.kind === "answer") {
        tally.answered++;
        tally.statuses.set(outcome.status, (tally.statuses.get(outcome.status) ?? 0) + 1);
        if (outcome.status === 200) {
          const name = outcome.upstream ?? "?";
          tally.upstreams.set(name, (tally.upstreams.get(name) ?? 0) + 1);
        } else note(`GET ${path}: ${outcome.status} ${outcome.body.slice(0, 200)}`);
        if (outcome.close) {
          socket.close();
          socket = undefined;
        }
        continue;
      }
      if (outcome.kind === "closed") tally.closedBeforeAnswer++;
      else if (outcome.kind === "cut") tally.cutMidAnswer++;
      else tally.hung++;
      note(`GET ${path}: ${outcome.kind} (${outcome.received} bytes received)`);
      socket.close();
      socket = undefined;
    }
    socket?.close();
  };
  const running = Promise.all(Array.from({ length: options.clients }, client));
  return {
    tally,
    failures: () => tally.answered - (tally.statuses.get(200) ?? 0) + tally.closedBeforeAnswer + tally.cutMidAnswer + tally.refused + tally.hung,
    async stop() {
      stopping = true;
      await running;
      return tally;
    },
  };
}

type Outcome =
  | { kind: "answer"; status: number; upstream: string | undefined; close: boolean; body: string }
  | { kind: "closed" | "cut" | "hung"; received: number };

/** One keep-alive client connection: a request at a time, answers read by their Content-Length. */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.notify();
    });
    const end = () => {
      this.ended = true;
      this.notify();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", () => {});
  }

  static open(port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => resolve(new Connection(socket)));
      socket.once("error", reject);
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async get(path: string, timeoutMs: number): Promise<Outcome> {
    if (this.ended) return { kind: "closed", received: 0 };
    this.buffered = Buffer.alloc(0);
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: load.test\r\n\r\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.parse();
      if (answer) return answer;
      if (this.ended) return { kind: this.buffered.length === 0 ? "closed" : "cut", received: this.buffered.length };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: "hung", received: this.buffered.length };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The whole answer when it is in. */
  private parse(): Outcome | undefined {
    const bytes = this.buffered;
    const end = bytes.indexOf("\r\n\r\n");
    if (end < 0) return undefined;
    const head = bytes.subarray(0, end).toString("latin1");
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (bytes.length < end + 4 + length) return undefined;
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    return {
      kind: "answer",
      status,
      upstream: /\r\nx-upstream:\s*([^\r]*)/i.exec(head)?.[1],
      close: /\r\nconnection:\s*close/i.test(head),
      body: bytes.subarray(end + 4, end + 4 + length).toString("latin1"),
    };
  }

  close(): void {
    this.socket.destroy();
  }
}
