// Coarse deadlines for many connections or requests at once: each sets a number (ms since epoch) instead of
// arming a timer of its own, and one sweep every `sweepMs` calls `expire` on those past due. A request costs a
// Set insert and delete instead of a timer's creation and cancellation. Used for the client connections'
// header, idle, body and send timeouts (a second of slack), and for upstream response timeouts (a finer sweep).

export interface Expiring {
  /** When this connection's current wait ends (ms since epoch); 0 means no deadline now. */
  deadline: number;
  expire(now: number): void;
}

export class Deadlines {
  private readonly members = new Set<Expiring>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly sweepMs = 1_000) {}

  add(member: Expiring): void {
    this.members.add(member);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), this.sweepMs);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /** No longer watched. The sweep stops itself once nothing is left (not here: a busy gateway would restart it per request). */
  delete(member: Expiring): void {
    this.members.delete(member);
  }

  get size(): number {
    return this.members.size;
  }

  private sweep(): void {
    if (this.members.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = Date.now();
    for (const member of this.members) {
      if (member.deadline !== 0 && member.deadline <= now) member.expire(now);
    }
  }
}
