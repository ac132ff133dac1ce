// What /metrics shows of one upstream server's exchanges: attempts, failures by reason, and how long connecting
// and answering took. One object per server, kept with the server's run-time state so that it carries over
// reloads as the rest of that state does; the exchange adds to it with a field read and an increment.
import { Histogram } from "./histogram.ts";
import type { FigureSet } from "./exposition.ts";
import { ClosedBeforeAnswer, type UpstreamFailure } from "../proxy/errors.ts";

/**
 * Why an attempt failed, as the server's fault: `connect` (no connection within the connect timeout, refused,
 * unreachable), `timeout` (no answer within the response timeout, or silent in the middle of one), `closed`
 * (the connection closed before any byte of an answer), `bad-response` (an invalid answer, or one cut short).
 */
export const FAILURE_REASONS = ["connect", "timeout", "closed", "bad-response"] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** The reason's index in FAILURE_REASONS, or -1 when the failure was the client's doing (gone, body too large). */
export function failureIndex(failure: UpstreamFailure): number {
  switch (failure.kind) {
    case "connect":
      return 0;
    case "timeout":
      return 1;
    case "bad-response":
      return failure instanceof ClosedBeforeAnswer ? 2 : 3;
    default:
      return -1;
  }
}

export class ServerFigures {
  /** Requests sent, or tried, to the server: every connection asked for or reused, retries included. */
  attempts = 0;
  /** Per FAILURE_REASONS index. */
  readonly failures = [0, 0, 0, 0];
  /** Time to connect, for new connections only (a reused one costs nothing). */
  readonly connect = new Histogram();
  /** From the request sent whole to the answer's head. */
  readonly response = new Histogram();

  /** Count a failure of this server's (the client's doing is not counted). */
  failed(failure: UpstreamFailure): void {
    const i = failureIndex(failure);
    if (i >= 0) this.failures[i]!++;
  }

  collect(into: FigureSet, pool: string, server: string): void {
    const labels = ["pool", pool, "server", server];
    into.add("sluice_upstream_attempts_total", labels, this.attempts);
    for (let i = 0; i < FAILURE_REASONS.length; i++) into.add("sluice_upstream_failures_total", [...labels, "reason", FAILURE_REASONS[i]!], this.failures[i]!);
    if (this.connect.count > 0) into.histogram("sluice_upstream_connect_seconds", labels, this.connect);
    if (this.response.count > 0) into.histogram("sluice_upstream_response_seconds", labels, this.response);
  }
}
