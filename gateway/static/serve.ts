// Static file serving for a route's `static` block: files under `root` only, with Content-Type, strong ETag,
// Last-Modified, Cache-Control, conditional requests (304/412), a single byte Range (206/416), HEAD, and
// precompressed .br/.gz siblings. The once-per-route work (resolving the root, the index name, the
// Cache-Control value) is done by createStaticHandler; the handler it returns does the per-request work.
import { errorResponse } from "../proxy/errors.ts";
import { requestIdFor } from "../proxy/headers.ts";
import { fileBody } from "./body.ts";
import { evaluatePreconditions, ifRangeAllows, validatorsFor, type Validators } from "./conditional.ts";
import { acceptedPrecompressed } from "./encoding.ts";
import { contentTypeFor } from "./mime.ts";
import { parseRange, type RangeRequest } from "./range.ts";
import { decodeRequestPath, indexSegments, StaticRoot, type Found } from "./resolve.ts";

export interface StaticOptions {
  /** The directory served; relative to configDir unless absolute. */
  root: string;
  /** Cache-Control max-age, in milliseconds (sent as whole seconds); no Cache-Control when unset. */
  maxAge?: number;
  /** The file served for a directory ("index.html"). */
  index: string;
  /** The config file's directory. */
  configDir: string;
}

/**
 * Answers one request. `path` is the URL pathname as received (percent-encoded, not dot-normalised); it is
 * the path looked up under the root. `requestId` goes in error bodies; by default the request's valid
 * X-Request-Id, else a fresh one.
 */
export type StaticHandler = (request: Request, path: string, requestId?: string) => Promise<Response>;

const ALLOW = "GET, HEAD";

/** Builds the handler of one static route. Throws on an index that could name a file outside a directory. */
export function createStaticHandler(options: StaticOptions): StaticHandler {
  const root = new StaticRoot(options.root, options.configDir);
  const index = indexSegments(options.index || "index.html");
  const cacheControl = options.maxAge === undefined ? undefined : `public, max-age=${Math.max(0, Math.floor(options.maxAge / 1000))}`;

  return async (request, path, requestId) => {
    const id = requestId ?? requestIdFor(request.headers.get("x-request-id"));
    try {
      return await serve(request, path, id);
    } catch {
      return errorResponse(500, "internal error while serving a file", id);
    }
  };

  async function serve(request: Request, path: string, id: string): Promise<Response> {
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") return errorResponse(405, "method not allowed", id, { allow: ALLOW });

    const decoded = decodeRequestPath(path);
    if (!decoded.ok) return errorResponse(decoded.status, decoded.error, id);

    let file = await root.lookup(root.join(decoded.segments));
    if (file === undefined) return notFound(id);
    if (file.stats.isDirectory()) {
      if (!decoded.trailingSlash) return redirectToSlash(request);
      file = await root.lookup(root.join([...decoded.segments, ...index]));
      if (file === undefined || !file.stats.isFile()) return notFound(id); // no directory listings
    } else if (decoded.trailingSlash) {
      return notFound(id); // "/file.txt/" names a directory that is not there
    }

    const headers = request.headers;
    const identity: Representation = { file, validators: validatorsFor(file.stats) };
    const size = file.stats.size;
    let range: RangeRequest = method === "GET" ? parseRange(headers.get("range"), size) : { kind: "none" };
    if (range.kind !== "none" && !ifRangeAllows(headers, identity.validators)) range = { kind: "none" };

    // A precompressed sibling is chosen only for whole-file answers: ranges are served from the identity file.
    const offers = acceptedPrecompressed(headers.get("accept-encoding"));
    let chosen = identity;
    if (range.kind === "none") {
      for (const offer of offers) {
        const sibling = await root.lookup(file.logical + offer.suffix);
        if (sibling?.stats.isFile()) {
          chosen = { file: sibling, validators: validatorsFor(sibling.stats, `-${offer.encoding}`), encoding: offer.encoding };
          break;
        }
      }
    }

    const out = new Headers();
    out.set("content-type", contentTypeFor(file.logical));
    out.set("etag", chosen.validators.etag);
    out.set("last-modified", chosen.validators.lastModified);
    out.set("accept-ranges", "bytes");
    if (cacheControl !== undefined) out.set("cache-control", cacheControl);
    if (offers.length > 0) out.set("vary", "Accept-Encoding");
    if (chosen.encoding !== undefined) out.set("content-encoding", chosen.encoding);

    const precondition = evaluatePreconditions(headers, chosen.validators);
    if (precondition === "failed") return errorResponse(412, "precondition failed", id);
    if (precondition === "not-modified") {
      out.delete("content-type");
      out.delete("content-encoding");
      return new Response(null, { status: 304, headers: out });
    }

    if (range.kind === "unsatisfiable") {
      return errorResponse(416, "range not satisfiable", id, { "content-range": `bytes */${size}`, "accept-ranges": "bytes" });
    }

    const total = chosen.file.stats.size;
    const [status, start, end] = range.kind === "range" ? [206, range.start, range.end] : [200, 0, total - 1];
    if (status === 206) out.set("content-range", `bytes ${start}-${end}/${total}`);
    out.set("content-length", String(end - start + 1));
    if (method === "HEAD") return new Response(null, { status, headers: out });

    let body: BodyInit | null;
    try {
      body = await fileBody(chosen.file.real, chosen.file.stats, start, end);
    } catch {
      return notFound(id); // removed or replaced between the lookup and the read
    }
    return new Response(body, { status, headers: out });
  }
}

interface Representation {
  file: Found;
  validators: Validators;
  encoding?: "br" | "gzip";
}

function notFound(requestId: string): Response {
  return errorResponse(404, "not found", requestId);
}

/** 301 from "/dir" to "/dir/", keeping the query (built from the request URL; never a "//host" location). */
function redirectToSlash(request: Request): Response {
  const url = new URL(request.url);
  const location = url.pathname.replace(/^\/+/, "/") + "/" + url.search;
  return new Response(null, { status: 301, headers: { location } });
}

const handlers = new WeakMap<StaticOptions, StaticHandler>();

/**
 * One-call form: serves with the handler built for this options object, built on its first use and kept for as
 * long as the object lives — so passing the same object for every request of a route does the root work once.
 * Prefer createStaticHandler at route compile time.
 */
export function serveStatic(request: Request, path: string, options: StaticOptions, requestId?: string): Promise<Response> {
  let handler = handlers.get(options);
  if (handler === undefined) {
    handler = createStaticHandler(options);
    handlers.set(options, handler);
  }
  return handler(request, path, requestId);
}
