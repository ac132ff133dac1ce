// Requests waiting for a server to drop below its maxConns (HAProxy's queue): first in, first out,
// bounded in length and in time. A waiter is woken when a request ends and then tries to select again;
// one that finds nothing after all (another took the slot, or the freed server is one it must avoid)
// waits again in the place it had, until the deadline it was given when it first arrived.

export class QueueFull extends Error {}
export class QueueTimeout extends Error {}

/** A request's place in the queue: kept across wake-ups, so waiting again neither loses it nor extends the time. */
export interface QueuePlace {
  readonly seq: number;
  readonly deadline: number;
}

interface Waiter {
  place: QueuePlace;
  resolve(): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class WaitQueue {
  private readonly waiters: Waiter[] = [];
  private seq = 0;

  constructor(
    private readonly max: number,
    private readonly timeoutMs: number,
  ) {}

  get length(): number {
    return this.waiters.length;
  }

  /**
   * Wait for a wake-up. A first wait (no `place`) rejects with QueueFull at once when the queue is full; a
   * wait again after a fruitless wake-up keeps its place. Rejects with QueueTimeout once the deadline set on
   * arrival passes, or when `signal` aborts (the client went away): either way the waiter leaves the queue.
   */
  wait(signal?: AbortSignal, place?: QueuePlace): Promise<QueuePlace> {
    if (signal?.aborted) return Promise.reject(new QueueTimeout("client went away while queued"));
    if (!place) {
      if (this.waiters.length >= this.max) return Promise.reject(new QueueFull("queue full"));
      place = { seq: ++this.seq, deadline: Date.now() + this.timeoutMs };
    }
    const remaining = place.deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new QueueTimeout(`no server freed up within ${this.timeoutMs}ms`));
    const held = place;
    return new Promise<QueuePlace>((resolve, reject) => {
      const settle = () => {
        clearTimeout(waiter.timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        place: held,
        resolve: () => {
          settle();
          resolve(held);
        },
        reject: (error) => {
          settle();
          this.remove(waiter);
          reject(error);
        },
        timer: setTimeout(() => waiter.reject(new QueueTimeout(`no server freed up within ${this.timeoutMs}ms`)), remaining),
      };
      const onAbort = () => waiter.reject(new QueueTimeout("client went away while queued"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.insert(waiter);
    });
  }

  /** A slot freed up: the oldest waiter tries again. */
  wakeOne(): void {
    this.waiters.shift()?.resolve();
  }

  /** Servers changed (one was enabled, say): every waiter tries again, oldest first. */
  wakeAll(): void {
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  /** In arrival order: a waiter back from a fruitless wake-up goes before those who came after it. */
  private insert(waiter: Waiter): void {
    let i = this.waiters.length;
    while (i > 0 && this.waiters[i - 1]!.place.seq > waiter.place.seq) i--;
    this.waiters.splice(i, 0, waiter);
  }

  private remove(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}
