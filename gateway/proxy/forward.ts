// Sends one request to a pool: picks a server, applies the connect and response timeouts, and retries
// connection failures of idempotent, bodiless requests on another server. Returns the upstream's
// Response with its body still streaming, or throws an UpstreamFailure.
import type { UpstreamPool } from "../http/upstream-pool.ts";
import { pooledFetch, type PooledTiming } from "../http/pooled-fetch.ts";
import type { RequestLog } from "../plugin/types.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { SelectionInput } from "../balancing/selector.ts";
import { classifyFetchError, ClosedBeforeAnswer, UpstreamFailure } from "./errors.ts";
import { NoServerAvailable, tryServers } from "./attempts.ts";
import type { ServerTrace } from "../observability/tracing.ts";

export interface ForwardPolicy {
  retries: number;
  connectTimeout: number;
  responseTimeout: number;
}

export interface OutgoingRequest {
  method: string;
  /** Path and query to request from the server. */
  pathAndQuery: string;
  headers: Headers;
  /** Host header for the upstream; undefined means the server's own host. */
  host: string | undefined;
  body: ReadableStream<Uint8Array> | null;
  /** Why the request body failed on the client's side (too large, client gone), if it did. */
  clientBodyFailure?: () => UpstreamFailure | undefined;
  /** Settles once the request body has been sent: the response timeout runs from then. */
  bodySent?: Promise<void>;
  /** Aborts when the client goes away. */
  clientSignal: AbortSignal;
  selection: SelectionInput;
  /** Where the access log's upstream fields go (connect and response times, retries). */
  log?: RequestLog;
  /** The request's server span (tracing on): a client span per attempt, whose context the upstream receives. */
  trace?: ServerTrace;
}

export interface ForwardResult {
  response: Response;
  server: UpstreamServer;
  attempts: number;
}

const RETRYABLE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

export { NoServerAvailable };

export async function forward(upstreams: UpstreamPool, pool: Pool, policy: ForwardPolicy, out: OutgoingRequest): Promise<ForwardResult> {
  const mayRetry = out.body === null && RETRYABLE_METHODS.has(out.method);
  let tries = 0;
  const {
    value: response,
    server,
    attempts,
  } = await tryServers(
    pool,
    out.selection,
    mayRetry ? 1 + policy.retries : 1,
    out.clientSignal,
    async (server) => {
      let response: Response;
      let sent = 0;
      const timing: PooledTiming = { tries: 0, reused: false, connectMs: undefined, responseMs: 0 };
      try {
        if (out.clientSignal.aborted) throw new UpstreamFailure("aborted", "client went away");
        if (out.trace) {
          out.trace.attempt(out.method, server, out.pathAndQuery);
          out.trace.attemptHeaders(out.headers);
        }
        sent = Date.now();
        response = await attemptOnce(upstreams, server, policy, out, timing);
      } catch (error) {
        tries = recordAttempt(server, timing, out.log, tries, error);
        const failure = error instanceof UpstreamFailure ? error : new UpstreamFailure(classifyFetchError(error), describe(error), { cause: error });
        out.trace?.attemptFailed(failure);
        throw failure;
      }
      out.trace?.attemptAnswered(response.status);
      tries = recordAttempt(server, timing, out.log, tries);
      const now = Date.now();
      pool.answered(server, now, now - sent);
      if (pool.wantsLoadReports) {
        const load = response.headers.get("x-server-load");
        if (load !== null) pool.loadReported(server, Number(load), now);
      }
      return response;
    },
    (error) => {
      const kind = (error as UpstreamFailure).kind;
      // The client's doing (gone, body over the limit) is not the server's failure, and nothing to retry.
      const clientsFault = kind === "aborted" || kind === "body-too-large";
      // A connection closed before any byte of the answer may go elsewhere too, as on the byte path (exchange.ts).
      return { blameServer: !clientsFault, retry: kind === "connect" || error instanceof ClosedBeforeAnswer };
    },
  );
  // The exchange stays in flight on this server until its body has been relayed (or cancelled): least-conn,
  // p2c, maxConns and the admin's `active` must count a long download, not just the wait for headers.
  return { response: releaseWhenDone(response, () => pool.release(server)), server, attempts };
}

/**
 * One attempt's figures (the server's, for /metrics) and the access log's upstream fields; returns the tries made
 * so far for this request.
 */
function recordAttempt(server: UpstreamServer, timing: PooledTiming, log: RequestLog | undefined, tries: number, error?: unknown): number {
  const figures = server.figures;
  figures.attempts += timing.tries;
  tries += timing.tries;
  if (timing.connectMs !== undefined && !timing.reused) figures.connect.observe(timing.connectMs);
  if (error === undefined) figures.response.observe(timing.responseMs);
  else figures.failed(error instanceof UpstreamFailure ? error : new UpstreamFailure(classifyFetchError(error), String(error)));
  if (log) {
    log.retries = tries > 1 ? tries - 1 : 0;
    if (timing.connectMs !== undefined) log.upstreamConnectMs = Math.round(timing.connectMs * 100) / 100;
    if (error === undefined) log.upstreamResponseMs = Math.round(timing.responseMs * 100) / 100;
  }
  return tries;
}

async function attemptOnce(
  upstreams: UpstreamPool,
  server: UpstreamServer,
  policy: ForwardPolicy,
  out: OutgoingRequest,
  timing: PooledTiming,
): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  let answered = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const startTimer = () => {
    if (answered) return;
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, policy.responseTimeout);
  };
  // The response timeout is the upstream's time to answer, so it starts once the request body is sent: a
  // large upload from a slow client is not the upstream being slow (a stalled client is cut by the
  // listener's idle timeout). Never started after the answer came: it would abort the response body.
  if (out.bodySent) void out.bodySent.then(startTimer);
  else startTimer();
  // Left in place after the answer too: a client gone mid-body also ends the upstream exchange. (Removing
  // it costs more per request than it saves.)
  out.clientSignal.addEventListener("abort", () => controller.abort(), { once: true });
  out.headers.set("host", out.host ?? server.hostHeader);
  try {
    const response = await pooledFetch(upstreams, server, {
      method: out.method,
      pathAndQuery: out.pathAndQuery,
      headers: out.headers,
      body: out.body,
      signal: controller.signal,
      connectTimeout: policy.connectTimeout,
      stallTimeout: policy.responseTimeout,
      timing,
    });
    // fetch hands back any three-digit status ("HTTP/1.1 999 ..."), but a Response can only carry 200-599:
    // relaying it would throw later and become a 500 "internal error" instead of the upstream's fault.
    if (response.status < 200 || response.status > 599) {
      void response.body?.cancel().catch(() => {});
      throw new UpstreamFailure("bad-response", `${server.id} answered with status ${response.status}`);
    }
    return response;
  } catch (error) {
    if (out.clientSignal.aborted) throw new UpstreamFailure("aborted", "client went away");
    // fetch failed because the upload did (client gone mid-body, body over the limit): blame the client.
    const bodyFailure = out.clientBodyFailure?.();
    if (bodyFailure) throw bodyFailure;
    if (timedOut) throw new UpstreamFailure("timeout", `${server.id} did not answer within ${policy.responseTimeout}ms`);
    throw error;
  } finally {
    answered = true;
    clearTimeout(timer);
  }
}

/** Bodies up to this size with a Content-Length are relayed at once: not worth an extra stream layer. */
const SMALL_BODY = 64 * 1024;

/**
 * The same response, whose body calls `release` exactly once when it ends, fails or is cancelled (the client
 * went away). Without a body, or with a small announced one, `release` runs at once: relaying through one
 * more JS stream costs ~30% of small-request throughput, and a small body's transfer time does not matter
 * for balancing. Whoever drops the body unread must cancel it (http-proxy.ts does).
 */
function releaseWhenDone(response: Response, release: () => void): Response {
  // Checked before touching `.body`: reading it makes the runtime build a JS stream, where a Response passed
  // on untouched is piped natively.
  const length = response.headers.get("content-length");
  if (length !== null && Number(length) <= SMALL_BODY) {
    release();
    return response;
  }
  const body = response.body;
  if (body === null) {
    release();
    return response;
  }
  let released = false;
  const once = () => {
    if (released) return;
    released = true;
    release();
  };
  const reader = body.getReader();
  const relayed = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = await reader.read();
          if (done) {
            once();
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          once();
          controller.error(error);
        }
      },
      cancel(reason) {
        once();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(relayed, { status: response.status, statusText: response.statusText, headers: response.headers });
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return [e?.code, e?.message].filter(Boolean).join(": ") || String(error);
}
