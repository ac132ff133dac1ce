// What one active check does, whatever the protocol: a Probe tries the server once and says how it went.
// The checker owns timing (interval, timeout, cancellation); a probe only has to honour the signal.

export interface ProbeOutcome {
  ok: boolean;
  /** HTTP status, when the check got an answer. */
  status?: number;
  /** Why it failed, in a few words for the log: "connection refused", "status 500, expected 200-399"… */
  reason?: string;
}

/** Try the server once; must settle soon after `signal` aborts (timeout or stop). */
export type Probe = (signal: AbortSignal) => Promise<ProbeOutcome>;

const REFUSED = /ECONNREFUSED|ConnectionRefused|connection refused|os error 111/i;
const RESET = /ECONNRESET|ConnectionClosed|Connection reset|socket hang up|closed unexpectedly/i;
const UNREACHABLE = /EHOSTUNREACH|ENETUNREACH|unreachable/i;
const NOT_FOUND = /ENOTFOUND|EAI_AGAIN|DNS|getaddrinfo|failed to lookup/i;
const TIMEOUT = /ETIMEDOUT|TimeoutError|timed? ?out/i;

/** A probe's error in a few words (the runtimes word the same failures differently). */
export function describeProbeError(error: unknown): string {
  const e = error as { code?: string; name?: string; message?: string } | undefined;
  const text = `${e?.code ?? ""} ${e?.name ?? ""} ${e?.message ?? String(error)}`;
  if (REFUSED.test(text)) return "connection refused";
  if (RESET.test(text)) return "connection reset";
  if (UNREACHABLE.test(text)) return "host unreachable";
  if (NOT_FOUND.test(text)) return "host not found";
  if (TIMEOUT.test(text)) return "timeout";
  return e?.message || e?.code || String(error);
}
