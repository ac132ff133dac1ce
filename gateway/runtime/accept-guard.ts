// Keeps the TCP listeners from running the process out of file descriptors, for both runtime adapters.
//
// Measured on the runtimes themselves:
// - Bun 1.4: when accept() fails (EMFILE/ENFILE) its listener just returns to the event loop, the listening
//   socket is still readable, and the loop calls accept() again at once, forever: one core at 100% until a
//   descriptor is freed, and nothing reported to JavaScript.
// - Deno 2.9: `listener.accept()` rejects with EMFILE (the adapter backs off and retries), but Deno.serve (the
//   admin listener) meeting EMFILE fails inside Deno, and the process exits.
// nginx stops accepting for a while after such an error and HAProxy pauses the listener; the runtimes offer
// neither, so this guard pauses the listeners before descriptors run out, leaving `reserve` of them for what the
// clients already in need (upstream connections, the admin listener, files). How a listener pauses is the
// adapter's: Bun closes the listening socket (new clients are refused at once), Deno stops calling accept()
// (new clients wait in the kernel's backlog). Checks back off while paused, and the listeners accept again
// once descriptors are free. Two ways to know when to pause:
// - Counted, where /proc can be read (Linux; Bun always, Deno only with --allow-all): the soft limit from
//   /proc/self/limits, the adapters' sockets counted as they open and close, the rest of the process's
//   descriptors counted from /proc/self/fd when the total nears the limit. Listeners pause below `reserve`
//   free descriptors and resume at twice that.
// - Spare, elsewhere: `reserve` descriptors are held open on /dev/null. When descriptors run out (an adapter
//   reports a failed accept, or a probe every WATCH_MS cannot open one more), the listeners pause and the
//   spares are let go, which frees the reserve; the spares are taken back before the listeners resume.
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";

/** A listener that can stop accepting and start again on the same address. */
export interface PausableListener {
  /** For the log lines: "host:port". */
  readonly address: string;
  pause(): void;
  /** Accept again; false when that failed (tried again later). */
  resume(): boolean;
}

/** Checks while the listeners are paused: the first after this long, then twice as long each time, up to MAX. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;
/** How often the descriptors are looked at while accepting (/proc is read only when the total nears the limit). */
const WATCH_MS = 500;
/** Descriptors kept free when the limit is not known. */
const SPARE_RESERVE = 16;

export class AcceptGuard {
  private readonly listeners = new Set<PausableListener>();
  /** Sockets the adapter holds now. */
  private sockets = 0;
  /** Descriptors open that are not those sockets (stdio, the event loop's, files, the admin server's…), as last counted. */
  private others = 0;
  /** The soft descriptor limit; 0 when unknown (spare mode). */
  private readonly limit: number;
  /** Descriptors kept free: the listeners pause before fewer would be left. */
  private readonly reserve: number;
  /** Spare mode: the descriptors held open for the reserve while accepting. */
  private spares: number[] = [];
  private paused = false;
  private retryMs = FIRST_RETRY_MS;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(limit = descriptorLimit()) {
    this.limit = limit;
    this.reserve = limit > 0 ? Math.min(1_024, Math.max(16, Math.floor(limit / 10))) : SPARE_RESERVE;
  }

  add(listener: PausableListener): void {
    if (this.listeners.size === 0) {
      if (this.limit > 0) this.others = Math.max(0, openDescriptors() - this.sockets);
      else this.takeSpares();
      this.schedule(WATCH_MS);
    }
    this.listeners.add(listener);
    if (this.paused) listener.pause();
  }

  delete(listener: PausableListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.paused = false;
      this.releaseSpares();
    }
  }

  /** A socket was opened: past the line, the listeners pause before the next accept. */
  opened(): void {
    this.sockets++;
    if (!this.paused && this.limit > 0 && this.sockets + this.others >= this.limit - this.reserve) this.check();
  }

  closed(): void {
    this.sockets--;
  }

  /** An accept failed for want of descriptors (EMFILE/ENFILE). */
  exhausted(): void {
    if (!this.paused && this.listeners.size > 0) this.pauseAll(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Look at the descriptors, then pause or resume the listeners as they say; schedule the next look. */
  private check(): void {
    if (this.listeners.size === 0) return;
    if (!this.paused) {
      const left = this.limit > 0 ? this.countedLeft() : canOpenOneMore() ? this.reserve : 0;
      if (left < this.reserve) this.pauseAll(left);
      else this.schedule(WATCH_MS);
      return;
    }
    // Counted: twice the reserve free before accepting again, so that a few accepts do not pause them at once.
    // Spare: the reserve taken back (and one more descriptor to spare).
    const ready = this.limit > 0 ? this.countedLeft() >= 2 * this.reserve : this.takeSpares() && canOpenOneMore();
    if (ready && this.resumeAll()) {
      this.paused = false;
      this.retryMs = FIRST_RETRY_MS;
      console.error(`sluice: file descriptors available again: accepting connections on ${this.addresses()}`);
      this.schedule(WATCH_MS);
      return;
    }
    if (this.limit === 0) this.releaseSpares();
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    this.schedule(this.retryMs);
  }

  /** Descriptors that may still be opened: estimated while the total is below half the limit, else counted. */
  private countedLeft(): number {
    if (this.sockets + this.others < this.limit / 2 && !this.paused) return this.limit - this.sockets - this.others;
    const open = openDescriptors();
    this.others = Math.max(0, open - this.sockets);
    return this.limit - open;
  }

  private pauseAll(left: number): void {
    this.paused = true;
    for (const listener of this.listeners) listener.pause();
    this.releaseSpares();
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

  /** Spare mode: hold the reserve open; false when descriptors ran out first. */
  private takeSpares(): boolean {
    while (this.spares.length < this.reserve) {
      try {
        this.spares.push(openSync("/dev/null", "r"));
      } catch (error) {
        // Not allowed to open it at all (a sandbox): there are no spares, and only failed accepts pause.
        return !outOfDescriptors(error);
      }
    }
    return true;
  }

  private releaseSpares(): void {
    for (const fd of this.spares) closeSync(fd);
    this.spares = [];
  }

  private addresses(): string {
    return [...this.listeners].map((l) => l.address).join(", ");
  }
}

/** Whether an error is the process (EMFILE) or the system (ENFILE) being out of file descriptors. */
export function outOfDescriptors(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === "EMFILE" || e?.code === "ENFILE" || /too many open files/i.test(e?.message ?? "");
}

/** The process's soft limit on open files (Linux), or 0 when it cannot be read or is unlimited. */
function descriptorLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "latin1")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
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
    return !outOfDescriptors(error);
  }
}
