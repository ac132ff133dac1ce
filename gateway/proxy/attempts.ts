// The one retry loop of the proxy, for HTTP requests and WebSocket upgrades alike: take a server from the
// pool, try it, and on a connection failure count it against that server and try another (never one
// already tried while another is available), up to the retry budget.
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { SelectionInput } from "../balancing/selector.ts";
import { QueueFull, QueueTimeout } from "../pool/wait-queue.ts";
import { UpstreamFailure } from "./errors.ts";

export class NoServerAvailable extends Error {}

/** How a failed attempt counts: against the server or not, and whether another server may be tried. */
export interface FailureVerdict {
  blameServer: boolean;
  retry: boolean;
}

export interface Attempted<T> {
  value: T;
  /** Counted as busy on the pool: the caller must `pool.release(server)` when the exchange is over. */
  server: UpstreamServer;
  attempts: number;
}

export async function tryServers<T>(
  pool: Pool,
  selection: SelectionInput,
  maxAttempts: number,
  signal: AbortSignal | undefined,
  attempt: (server: UpstreamServer) => Promise<T>,
  judge: (error: unknown) => FailureVerdict,
): Promise<Attempted<T>> {
  let tried: Set<UpstreamServer> | undefined;
  let lastError: unknown;
  for (let n = 1; n <= maxAttempts; n++) {
    let server: UpstreamServer | undefined;
    try {
      server = await pool.acquire(selection, tried, signal);
    } catch (error) {
      if (signal?.aborted) throw new UpstreamFailure("aborted", "client went away while queued");
      if (error instanceof QueueFull || error instanceof QueueTimeout) throw new NoServerAvailable(`pool "${pool.name}": ${error.message}`);
      throw error;
    }
    if (!server) break;
    try {
      return { value: await attempt(server), server, attempts: n };
    } catch (error) {
      pool.release(server);
      const verdict = judge(error);
      if (verdict.blameServer) pool.failed(server, Date.now());
      if (!verdict.retry) throw error;
      lastError = error;
      (tried ??= new Set()).add(server);
      selection.now = Date.now();
    }
  }
  throw lastError ?? new NoServerAvailable(`no server of pool "${pool.name}" is available`);
}
