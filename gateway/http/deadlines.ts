// Coarse deadlines for many connections at once: a connection sets a number (ms since epoch) instead of arming
// a timer per request, and one sweep a second calls `expire` on those past due. Used for what a second of slack
// does not matter to: the header-read timeout (slowloris), the keep-alive idle timeout, a stalled body.

export interface Expiring {
  /** When this connection's current wait ends (ms since epoch); 0 means no deadline now. */
  deadline: number;
  expire(now: number): void;
}

const SWEEP_MS = 1_000;

export class Deadlines {
  private readonly members = new Set<Expiring>();
  private timer: ReturnType<typeof setInterval> | undefined;

  add(member: Expiring): void {
    this.members.add(member);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), SWEEP_MS);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  delete(member: Expiring): void {
    this.members.delete(member);
    if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  get size(): number {
    return this.members.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const member of this.members) {
      if (member.deadline !== 0 && member.deadline <= now) member.expire(now);
    }
  }
}
