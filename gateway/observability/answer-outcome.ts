// On the hono path the core middleware knows the request and its answer (status, route, plugins' hooks) but
// not how the answer went out: the connection writes it afterwards. So the middleware leaves the log line
// pending, and the connection finishes it with what only it knows, once the last byte is written (or the
// writing failed). The count in /metrics is taken then too, with the whole duration.
import type { Termination } from "../plugin/types.ts";

export interface AnswerOutcome {
  /** From the request's head to the end of its answer. */
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  protocol: string;
  /** The client's own target (path and query), as the byte path logs it. */
  target: string;
  /** When the answer did not go out whole: how it ended, and the status to log (499 for a client that left). */
  termination?: Termination;
  status?: number;
}

export interface PendingLog {
  finish(outcome: AnswerOutcome): void;
}
