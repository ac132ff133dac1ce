// The hono path: for requests that plugins handle as objects (global middleware or routes, a route's
// middleware or phases), static files and redirects. A Request is built from the parsed head, with a body
// that streams from the connection with backpressure; the hono app answers; its Response goes out through
// the one response writer. A WebSocket upgrade that gets through the middleware is proxied as bytes by the
// exchange itself (the handler asks for it through `upgradeVia`).
import type { RequestContext } from "../runtime/types.ts";
import type { BodySink } from "../http/downstream.ts";
import { writeResponse } from "../http/response-writer.ts";
import { ClientBodyFailure, UpstreamFailure } from "./errors.ts";
import type { Exchange } from "./exchange.ts";
import type { EngineServices } from "./engine-services.ts";
import type { ProxyRoute } from "./http-proxy.ts";
import type { HeaderEdits } from "./request-phase.ts";
import type { AnswerOutcome } from "../observability/answer-outcome.ts";
import type { Termination } from "../plugin/types.ts";

/** The Response a handler returns to say "proxy this upgrade as bytes": never written itself. */
const UPGRADE_AS_BYTES = new Response(null, { status: 101 });

export function answerViaHono(exchange: Exchange, services: EngineServices): void {
  const { conn, head } = exchange;
  const aborter = new AbortController();
  let drained: (() => void) | undefined;
  let gone = false;
  conn.attach({
    drain: () => {
      const wake = drained;
      drained = undefined;
      wake?.();
    },
    clientGone: () => {
      gone = true;
      aborter.abort(new UpstreamFailure("aborted", "client went away"));
      drained?.();
    },
  });

  let request: Request;
  try {
    request = requestOf(exchange, aborter.signal);
  } catch (error) {
    return exchange.answerError(400, `malformed request: ${(error as Error).message}`);
  }
  let upgrade: { route: ProxyRoute; pathAndQuery: string; headers: Headers } | undefined;
  const context: RequestContext = {
    client: { address: conn.clientAddress, port: conn.clientPort },
    target: head.pathAndQuery,
    vars: exchange.requestPhase?.varsIfAny,
    // The log line is finished here once the answer is written: its bytes, and how it ended.
    deferLog: true,
    trace: exchange.trace,
    upgradeVia(route, pathAndQuery, headers) {
      upgrade = { route: route as ProxyRoute, pathAndQuery, headers };
      return UPGRADE_AS_BYTES;
    },
  };
  // writeResponse writes the head alone, first: what follows it is the answer's body (the log's bytesOut).
  let writes = 0;
  let bodyBytes = 0;
  const target = {
    write: (bytes: Uint8Array) => {
      if (writes++ > 0) bodyBytes += bytes.length;
      return conn.write(bytes);
    },
    waitDrain: () =>
      new Promise<void>((resolve, reject) => {
        if (gone) return reject(new Error("client went away"));
        drained = () => (gone ? reject(new Error("client went away")) : resolve());
      }),
  };
  let status = 0;
  void (async () => {
    const response = await services.snapshot().app.fetch(request, { sluice: context });
    if (response === UPGRADE_AS_BYTES && upgrade) {
      context.pendingLog?.finish(answerOutcome(exchange, 0, { termination: "upgraded" }));
      exchange.upgradeVia(upgrade.route, upgrade.pathAndQuery, upgrade.headers);
      return;
    }
    status = response.status;
    const answerEdits = exchange.requestPhase?.answer;
    const close = await writeResponse(
      target,
      answerEdits ? withEdits(response, answerEdits) : response,
      head.minor,
      conn.willClose,
      head.method === "HEAD",
      conn.answerFields,
    ).catch((error) => {
      context.pendingLog?.finish(answerOutcome(exchange, bodyBytes, cutShort(gone, error)));
      throw error;
    });
    context.pendingLog?.finish(answerOutcome(exchange, bodyBytes));
    exchange.trace?.end(status);
    exchange.leaveSnapshot();
    conn.finish(close);
  })().catch((error) => {
    // The answer was cut (the client left, or the body failed on the way): the span says so.
    exchange.trace?.end(gone ? 499 : status || 500, { error: (error as Error)?.message ?? String(error) });
    exchange.leaveSnapshot();
    conn.closeNow(false);
  });
}

/** The Response with the header changes the onRequest phase made to the answer. */
function withEdits(response: Response, edits: HeaderEdits): Response {
  const headers = new Headers();
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie" && !edits.dropsName(name)) headers.append(name, value);
  });
  if (!edits.dropsName("set-cookie")) for (const cookie of response.headers.getSetCookie()) headers.append("set-cookie", cookie);
  for (const [name, value] of edits.fields) headers.append(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** What the log line of a hono-path request needs from the connection (see observability/answer-outcome.ts). */
function answerOutcome(exchange: Exchange, bodyBytes: number, ended?: { termination: Termination; status?: number }): AnswerOutcome {
  const head = exchange.head;
  return {
    durationMs: performance.now() - exchange.started,
    bytesIn: exchange.bytesIn,
    bytesOut: bodyBytes,
    protocol: head.minor === 1 ? "HTTP/1.1" : "HTTP/1.0",
    target: head.pathAndQuery,
    ...ended,
  };
}

/** An answer whose writing failed: the client left (499), or its body broke off on the way. */
function cutShort(gone: boolean, error: unknown): { termination: Termination; status?: number } {
  if (gone) return { termination: "client-gone", status: 499 };
  return { termination: error instanceof UpstreamFailure && error.kind === "timeout" ? "timeout" : "upstream-failed" };
}

/** The fetch-style Request of a parsed head (the hono path only). */
function requestOf(exchange: Exchange, signal: AbortSignal): Request {
  const { head, conn } = exchange;
  const headers = new Headers();
  const fields = head.fields;
  const edits = exchange.requestPhase?.upstream;
  for (let i = 0; i < fields.length; i += 2) if (!edits?.dropsName(fields[i]!)) headers.append(fields[i]!, fields[i + 1]!);
  // What the onRequest phase set goes upstream, and the middleware and phases after it see it too.
  if (edits) for (const [name, value] of edits.fields) headers.append(name, value);
  // The request id the exchange settled on, so plugins, the proxy and the log agree on it.
  if (headers.get("x-request-id") !== exchange.requestId) headers.set("x-request-id", exchange.requestId);
  // An absolute-form target names the host, whatever Host says (RFC 9112 §3.2.2): plugins and the upstream see that one.
  if (head.host !== "" && head.host !== headers.get("host")) headers.set("host", head.host);
  // The normalised target: hono's routes, plugins' middleware and the route table read the path routing reads.
  const path = exchange.routingTarget.charCodeAt(0) === 47 ? exchange.routingTarget : "/";
  const url = `${exchange.proto}://${head.host || "localhost"}${path}`;
  const hasBody = head.chunked || head.contentLength > 0;
  let body: ReadableStream<Uint8Array> | null = null;
  if (hasBody) {
    let started = false;
    body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (started) {
          conn.resumeBody();
          return;
        }
        started = true;
        const sink: BodySink = {
          data(chunk) {
            exchange.bytesIn += chunk.length;
            controller.enqueue(chunk.slice());
            return (controller.desiredSize ?? 0) > 0;
          },
          end() {
            controller.close();
          },
          fail(failure) {
            controller.error(new ClientBodyFailure(failure.status, failure.message));
          },
        };
        conn.readBody(sink);
      },
    });
  }
  return new Request(url, { method: head.method, headers, body, signal, duplex: "half" } as RequestInit);
}
