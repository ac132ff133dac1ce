// The access log: one JSON line per request on stdout. Lines are gathered and written in batches so a
// busy gateway makes one write per tick instead of one per request.
import type { LogEntry } from "./plugin/types.ts";

export class AccessLog {
  private pending: string[] = [];
  private scheduled = false;

  constructor(readonly enabled: boolean, private readonly write: (text: string) => void = (t) => console.log(t)) {}

  add(entry: LogEntry): void {
    if (!this.enabled) return;
    this.pending.push(JSON.stringify(entry));
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), 50);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join("\n");
    this.pending = [];
    this.write(text);
  }
}
