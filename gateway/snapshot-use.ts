// How many requests are being served on one snapshot. A reload swaps the snapshot at once, but the requests
// that started on the old one still run its plugins' hooks: the old plugins are torn down (their timers,
// sockets and clients closed) only when those requests have ended, or when the shutdown timeout has passed,
// whichever comes first. One counter per snapshot, changed only through enter and leave.
export class SnapshotUse {
  private serving = 0;
  private whenIdle: (() => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** A request starts on this snapshot. */
  enter(): void {
    this.serving++;
  }

  /** A request that entered has ended (called once per enter). */
  leave(): void {
    this.serving--;
    if (this.serving === 0 && this.whenIdle) {
      const wake = this.whenIdle;
      this.whenIdle = undefined;
      wake();
    }
  }

  get requests(): number {
    return this.serving;
  }

  /** Resolves true when no request is being served on the snapshot, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.serving === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.timer = setTimeout(() => {
        this.whenIdle = undefined;
        resolve(false);
      }, timeoutMs);
      this.whenIdle = () => {
        clearTimeout(this.timer);
        resolve(true);
      };
    });
  }

  /** Nobody waits any more (the gateway stopped): the pending `idle` never settles and holds no timer. */
  stopWaiting(): void {
    clearTimeout(this.timer);
    this.whenIdle = undefined;
  }
}
