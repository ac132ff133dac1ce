// Requests waiting for a server to drop below its maxConns (HAProxy's queue): first in, first out,
// bounded in length and in time. A waiter is woken when a request ends and then tries to select again.

export class QueueFull extends Error {}
export class QueueTimeout extends Error {}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class WaitQueue {
  private readonly waiters: Waiter[] = [];

  constructor(private readonly max: number, private readonly timeoutMs: number) {}

  get length(): number {
    return this.waiters.length;
  }

  /** Wait for a wake-up; rejects with QueueFull at once when the queue is full, QueueTimeout after the timeout. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.waiters.length >= this.max) return Promise.reject(new QueueFull("queue full"));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(waiter.timer);
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (error) => {
          clearTimeout(waiter.timer);
          signal?.removeEventListener("abort", onAbort);
          this.remove(waiter);
          reject(error);
        },
        timer: setTimeout(() => waiter.reject(new QueueTimeout(`no server freed up within ${this.timeoutMs}ms`)), this.timeoutMs),
      };
      const onAbort = () => waiter.reject(new QueueTimeout("client went away while queued"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** A slot freed up: the oldest waiter tries again. */
  wakeOne(): void {
    this.waiters.shift()?.resolve();
  }

  private remove(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}
