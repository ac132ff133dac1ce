// Validators and conditional requests (RFC 9110 §8.8, §13): the ETag and Last-Modified of a file, and the
// precondition checks in the order the RFC gives — If-Match, If-Unmodified-Since, If-None-Match,
// If-Modified-Since — plus If-Range, which decides whether a Range is honoured.
import type { Stats } from "node:fs";

/** The validators of one representation (a file, or its precompressed sibling). */
export interface Validators {
  /** A strong entity tag, quoted. */
  etag: string;
  /** Modification time in whole seconds since the epoch (HTTP dates have second precision). */
  mtimeSeconds: number;
  /** The Last-Modified header value. */
  lastModified: string;
}

/** Strong validators from size and modification time; `suffix` keeps a precompressed sibling's tag distinct. */
export function validatorsFor(stats: Stats, suffix = ""): Validators {
  const mtimeMs = Math.floor(stats.mtimeMs);
  const mtimeSeconds = Math.floor(mtimeMs / 1000);
  return {
    etag: `"${mtimeMs.toString(36)}-${stats.size.toString(36)}${suffix}"`,
    mtimeSeconds,
    lastModified: new Date(mtimeSeconds * 1000).toUTCString(),
  };
}

const ENTITY_TAG = /(W\/)?"[^"]*"/g;

/** The entity tags of an If-Match / If-None-Match value, or "*". */
function entityTags(header: string): "*" | { weak: boolean; opaque: string }[] {
  if (header.trim() === "*") return "*";
  const tags: { weak: boolean; opaque: string }[] = [];
  for (const m of header.matchAll(ENTITY_TAG)) tags.push({ weak: m[1] !== undefined, opaque: m[0].slice(m[1] ? 2 : 0) });
  return tags;
}

/** An HTTP date in whole seconds, or undefined when it does not parse. */
function httpDateSeconds(value: string): number | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

export type Precondition = "proceed" | "not-modified" | "failed";

/**
 * Evaluates a GET/HEAD request's preconditions against a representation's validators: "not-modified" means
 * answer 304, "failed" means 412.
 */
export function evaluatePreconditions(headers: Headers, v: Validators): Precondition {
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    const tags = entityTags(ifMatch);
    // Strong comparison: a weak tag never matches.
    if (tags !== "*" && !tags.some((t) => !t.weak && t.opaque === v.etag)) return "failed";
  } else {
    const ius = headers.get("if-unmodified-since");
    const since = ius === null ? undefined : httpDateSeconds(ius);
    if (since !== undefined && v.mtimeSeconds > since) return "failed";
  }
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    const tags = entityTags(ifNoneMatch);
    // Weak comparison: W/"x" matches "x".
    if (tags === "*" || tags.some((t) => t.opaque === v.etag)) return "not-modified";
    return "proceed"; // If-Modified-Since is ignored when If-None-Match is present
  }
  const ims = headers.get("if-modified-since");
  const since = ims === null ? undefined : httpDateSeconds(ims);
  if (since !== undefined && v.mtimeSeconds <= since) return "not-modified";
  return "proceed";
}

/** Whether a Range may be honoured under the request's If-Range (true when there is none). */
export function ifRangeAllows(headers: Headers, v: Validators): boolean {
  const ifRange = headers.get("if-range");
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) return value === v.etag; // strong comparison only
  const date = httpDateSeconds(value);
  return date !== undefined && date === v.mtimeSeconds;
}
