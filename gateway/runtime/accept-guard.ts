// Keeps the TCP listeners from running the process out of file descriptors, for both runtime adapters.
//
// Measured on the runtimes themselves:
// - Bun 1.4: when accept() fails (EMFILE/ENFILE) its listener just returns to the event loop, the listening
//   socket is still readable, and the loop calls accept() again at once, forever: one core at 100% until a
//   descriptor is freed, and nothing reported to JavaScript.
// - Deno 2.9: `listener.accept()` rejects with EMFILE (the adapter backs off and retries), but Deno.serve (the
//   admin listener) meeting EMFILE rejects a promise nobody can catch in time, and the process exits.
// nginx stops accepting for a while after such an error and HAProxy pauses the listener; the runtimes offer
// neither, so this guard keeps the process from getting there: it counts the sockets the adapter opens, knows
// the descriptor limit (Linux: /proc/self/limits), and pauses the listeners while fewer than `reserve`
// descriptors would be left — kept for what the clients already in need: upstream connections, the admin
// listener, files. How a listener pauses is the adapter's: Bun closes the listening socket (new clients are
// refused at once), Deno stops calling accept() (new clients wait in the kernel's backlog). Checks back off
// while paused, and the listeners accept again once twice the reserve is free.
// Where the limit cannot be read, a probe (opening /dev/null) tells when descriptors have run out.
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";

/** A listener that can stop accepting and start again on the same address. */
export interface PausableListener {
  /** For the log lines: "host:port". */
  readonly address: string;
  pause(): void;
  /** Accept again; false when that failed (tried again later). */
  resume(): boolean;
}

/** Checks while the listeners are stopped: the first after this long, then twice as long each time, up to MAX. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;
/** How often the descriptors are looked at while accepting (only read from /proc when over half the limit). */
const WATCH_MS = 500;

export class AcceptGuard {
  private readonly listeners = new Set<PausableListener>();
  /** Sockets the adapter holds now. */
  private sockets = 0;
  /** Descriptors open that are not those sockets (stdio, the event loop's, files, the admin server's…), as last counted. */
  private others = 0;
  /** The soft descriptor limit; 0 when unknown. */
  private readonly limit: number;
  /** Descriptors kept free: the listeners stop before fewer would be left. */
  private readonly reserve: number;
  private paused = false;
  private retryMs = FIRST_RETRY_MS;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(limit = descriptorLimit()) {
    this.limit = limit;
    this.reserve = Math.min(1_024, Math.max(16, Math.floor(limit / 10)));
  }

  add(listener: PausableListener): void {
    if (this.listeners.size === 0) {
      this.others = Math.max(0, openDescriptors() - this.sockets);
      this.schedule(WATCH_MS);
    }
    this.listeners.add(listener);
  }

  delete(listener: PausableListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.paused = false;
    }
  }

  /** A socket was opened: past the line, the listeners stop before the next accept. */
  opened(): void {
    this.sockets++;
    if (!this.paused && this.limit > 0 && this.sockets + this.others >= this.limit - this.reserve) this.check();
  }

  closed(): void {
    this.sockets--;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Count, then stop or restart the listeners as the count says; schedule the next look. */
  private check(): void {
    if (this.listeners.size === 0) return;
    const left = this.descriptorsLeft();
    if (!this.paused) {
      if (left < this.reserve) this.pauseAll(left);
      else this.schedule(WATCH_MS);
      return;
    }
    // Twice the reserve before listening again, so that a few accepts do not stop them again at once.
    if (left >= 2 * this.reserve && this.resumeAll()) {
      this.paused = false;
      this.retryMs = FIRST_RETRY_MS;
      console.error(`sluice: file descriptors available again (${left} free): accepting connections on ${this.addresses()}`);
      this.schedule(WATCH_MS);
      return;
    }
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    this.schedule(this.retryMs);
  }

  /** Descriptors that may still be opened; exact when /proc is read, an estimate below half the limit. */
  private descriptorsLeft(): number {
    if (this.limit === 0) return canOpenOneMore() ? 2 * this.reserve : 0;
    if (this.sockets + this.others < this.limit / 2 && !this.paused) return this.limit - this.sockets - this.others;
    const open = openDescriptors();
    this.others = Math.max(0, open - this.sockets);
    return this.limit - open;
  }

  private pauseAll(left: number): void {
    this.paused = true;
    for (const listener of this.listeners) listener.pause();
    const what = this.limit > 0 ? `${this.limit - left} of ${this.limit} file descriptors in use` : "out of file descriptors";
    console.error(`sluice: ${what}: not accepting connections on ${this.addresses()} until some are closed`);
    this.retryMs = FIRST_RETRY_MS;
    this.schedule(this.retryMs);
  }

  private resumeAll(): boolean {
    let all = true;
    for (const listener of this.listeners) if (!listener.resume()) all = false;
    return all;
  }

  private addresses(): string {
    return [...this.listeners].map((l) => l.address).join(", ");
  }
}

/** The process's soft limit on open files (Linux), or 0 when it cannot be read or is unlimited. */
function descriptorLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "latin1").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) && soft > 0 ? soft : 0;
  } catch {
    return 0;
  }
}

/** Descriptors open in this process (Linux), 0 when unknown. */
function openDescriptors(): number {
  try {
    // The listing holds the directory's own descriptor while it is read.
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return 0;
  }
}

/** Whether one more descriptor can be opened now. */
function canOpenOneMore(): boolean {
  try {
    closeSync(openSync("/dev/null", "r"));
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code !== "EMFILE" && code !== "ENFILE";
  }
}
