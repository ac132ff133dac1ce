// Writes the access log's batches to its file (or standard output) one at a time, off the event loop, and holds
// at most what the access log lets it (the access log drops lines beyond, and counts them): a disk that cannot
// keep up costs lines, never memory without bound, and never blocks a request. The file can be swapped at any
// moment (SIGUSR1 after logrotate moved it, a reload naming another): the old one is closed once the write in
// progress ends, and the next batch goes to the new one.
import type { LogFile } from "../runtime/types.ts";

const encoder = new TextEncoder();

/**
 * `bytes` (lines, each ending with "\n") cut at line ends into pieces of at most `limit` bytes, so that each is
 * written whole; a line longer than `limit` is a piece of its own.
 */
export function* wholeLines(bytes: Uint8Array, limit: number): Generator<Uint8Array> {
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + limit, bytes.length);
    if (end < bytes.length) {
      const cut = bytes.lastIndexOf(10, end - 1);
      end = cut >= start ? cut + 1 : bytes.indexOf(10, end) + 1 || bytes.length;
    }
    yield bytes.subarray(start, end);
    start = end;
  }
}

export class LogWriter {
  private queued: string[] = [];
  private queuedBytes = 0;
  private writingBytes = 0;
  private busy = false;
  private idleWaiters: (() => void)[] = [];
  /** Lines lost to write errors (a full disk, a file gone). */
  failedLines = 0;
  private reported = false;

  constructor(
    private file: LogFile,
    private readonly report: (message: string) => void,
  ) {}

  /** Bytes (about: characters) queued or being written. */
  get held(): number {
    return this.queuedBytes + this.writingBytes;
  }

  /** Queue text (whole lines, each ending with "\n"). */
  write(text: string): void {
    this.queued.push(text);
    this.queuedBytes += text.length;
    if (!this.busy) void this.pump();
  }

  /** Write to `file` from the next batch on; the current file is closed once its write in progress ends. */
  replace(file: LogFile): void {
    const old = this.file;
    this.file = file;
    if (old === file) return;
    if (this.busy)
      this.whenIdle()
        .then(() => old.close())
        .catch(() => {});
    else void old.close().catch(() => {});
  }

  /** Resolves once everything queued has been written (or failed). */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.whenIdle();
    await this.file.close().catch(() => {});
  }

  private async pump(): Promise<void> {
    this.busy = true;
    while (this.queued.length > 0) {
      const text = this.queued.length === 1 ? this.queued[0]! : this.queued.join("");
      this.queued = [];
      this.queuedBytes = 0;
      this.writingBytes = text.length;
      const file = this.file;
      try {
        const bytes = encoder.encode(text);
        if (file.atomicBytes === undefined || bytes.length <= file.atomicBytes) await file.write(bytes);
        else for (const piece of wholeLines(bytes, file.atomicBytes)) await file.write(piece);
        if (this.reported) {
          this.reported = false;
          this.report("sluice: access log: writing again");
        }
      } catch (error) {
        let lines = 0;
        for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lines++;
        this.failedLines += lines;
        if (!this.reported) {
          this.reported = true;
          this.report(`sluice: access log: cannot write (${(error as Error)?.message ?? error}): lines are dropped until it can`);
        }
      }
      this.writingBytes = 0;
    }
    this.busy = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
