// The onLog phase: every hook gets the entry; one that throws is reported and the others still run.
import type { LogEntry } from "./types.ts";

export function runLogHooks(hooks: readonly ((entry: LogEntry) => void)[], entry: LogEntry): void {
  for (const hook of hooks) {
    try {
      hook(entry);
    } catch (error) {
      console.error("onLog hook failed:", error);
    }
  }
}
