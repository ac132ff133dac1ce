// One reading of every request path, before routing: the path a route is matched against must be the path the
// upstream will act on, or `/private/*` is bypassed by `//private/x`, `/%70rivate/x` or `/public/../private/x`.
//
// The rules (RFC 3986 §6.2.2 syntax-based normalisation, plus the refusals of nginx and HAProxy's normalizers):
// - `%XX` of an unreserved character (ALPHA DIGIT - . _ ~) is decoded; every other escape stays, its hex in
//   upper case, so there is one spelling of each path and nothing is decoded twice (`%252e` stays `%252e`);
// - `.` and `..` segments are removed (§5.2.4), also when spelled `%2e`; a `..` that would climb above `/` is
//   refused, and so is `.;…`/`..;…` (Tomcat and Jetty drop a `;` parameter and then read a dot segment);
// - repeated slashes are merged (as nginx's `merge_slashes`, on unless configured off);
// - refused: `%00`, a malformed escape (`%G1`, `%4`), a backslash (Windows upstreams read it as a separator),
//   and `%2F`/`%5C` (an encoded separator the upstream may decode) unless `encodedSlashes` is "keep": then they
//   pass undecoded, inside one segment, never as a separator — except next to a `..` piece (`..%2F`), which
//   an upstream that decodes them would climb with;
// - the bytes a request line may hold but a URI may not (`"` `<` `>` `[` `]` `^` `` ` `` `{` `|` `}`) are escaped:
//   a URL parser escapes most of them, so the URL hono's Request is built from keeps exactly this path, and
//   both ways through the gateway see one path;
// - the query string is never touched.
// A path that needs none of it (nearly all of them) is found so in one scan and returned as the same string.

/** The two settings of `pathNormalization` this reading depends on. */
export interface PathRules {
  /** Merge `//` into `/`. */
  readonly mergeSlashes: boolean;
  /** `%2F` and `%5C`: refused with 400, or kept as they are (inside one segment). */
  readonly encodedSlashes: "refuse" | "keep";
}

/** Why a path was refused: always a 400, and the connection closes after it, as for every malformed request. */
export interface PathRefusal {
  readonly refused: true;
  readonly message: string;
}

function refusal(message: string): PathRefusal {
  return Object.freeze({ refused: true, message });
}

// Made once: a refusal allocates nothing.
const NUL = refusal("NUL (%00) in path");
const BAD_ESCAPE = refusal("malformed percent-escape in path");
const BACKSLASH = refusal("backslash in path");
const ENCODED_SLASH = refusal("encoded slash (%2F or %5C) in path");
const CLIMBS = refusal("path climbs above the root");
const DOT_PARAMETER = refusal("dot segment with a ;parameter in path");
const SLASH_BESIDE_DOTS = refusal("encoded slash beside a .. in path");
const BAD_BYTE = refusal("invalid character in path");

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const SEMICOLON = 0x3b;
const BACKSLASH_BYTE = 0x5c;

// What each ASCII byte of a path is. Bytes ≥ 0x80 and control bytes are INVALID (the request parser lets none
// through; this function does not rely on it).
const PLAIN = 0;
const INVALID = 1;
/** `%`, `\`: the slow path decides. */
const SPECIAL = 2;
/** Legal in a request line, not in a URI path (RFC 3986 §3.3): escaped. */
const ESCAPE = 3;
const KIND = (() => {
  const t = new Uint8Array(128).fill(INVALID);
  for (let b = 0x21; b < 0x7f; b++) t[b] = PLAIN;
  t[PERCENT] = t[BACKSLASH_BYTE] = SPECIAL;
  for (const c of '"<>[]^`{|}') t[c.charCodeAt(0)] = ESCAPE;
  t[0x23 /* # */] = INVALID; // a fragment is never sent
  return t;
})();

/** ALPHA DIGIT - . _ ~ (RFC 3986 §2.3): the characters whose escapes are decoded. */
const UNRESERVED = (() => {
  const t = new Uint8Array(128);
  for (let b = 0; b < 128; b++) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c)) t[b] = 1;
  }
  return t;
})();

const HEX = "0123456789ABCDEF";

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * The request target (path and query) as routing must read it, or why it is refused. `target` is returned
 * itself when already normal; a target not starting with "/" (`*` of `OPTIONS *`) is left alone.
 */
export function normalizeTarget(target: string, rules: PathRules): string | PathRefusal {
  let end = target.indexOf("?");
  if (end < 0) end = target.length;
  if (target.charCodeAt(0) !== SLASH) return target;
  const merge = rules.mergeSlashes;
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === SLASH) {
      if (i + 1 === end) break;
      const next = target.charCodeAt(i + 1);
      if (next === SLASH) {
        if (merge) return normalizeSlow(target, end, rules);
      } else if (next === DOT) {
        // "/." starts a dot segment only when followed by the segment's end, another "." or a ";": "/.well-known" is plain.
        const after = i + 2 < end ? target.charCodeAt(i + 2) : SLASH;
        if (after === SLASH || after === DOT || after === SEMICOLON) return normalizeSlow(target, end, rules);
      }
    } else if (c >= 0x80 || KIND[c] !== PLAIN) return normalizeSlow(target, end, rules);
  }
  return target;
}

/** The full reading, for a path the scan found something in: segment by segment, then dot segments removed. */
function normalizeSlow(target: string, end: number, rules: PathRules): string | PathRefusal {
  const keepSlashes = rules.encodedSlashes === "keep";
  const kept: string[] = [];
  /** The path ends in a directory: a last segment that was ".", ".." or (with merging) empty. */
  let trailingSlash = false;
  let start = 1;
  while (start <= end) {
    let stop = target.indexOf("/", start);
    if (stop < 0 || stop > end) stop = end;
    const last = stop === end;
    const segment = readSegment(target, start, stop, keepSlashes);
    if (typeof segment !== "string") return segment;
    start = stop + 1;
    if (segment === "." || segment === "..") {
      if (segment === "..") {
        if (kept.length === 0) return CLIMBS;
        kept.pop();
      }
      trailingSlash = last;
      continue;
    }
    if (segment === "" && rules.mergeSlashes) {
      trailingSlash = last;
      continue;
    }
    trailingSlash = false;
    kept.push(segment);
  }
  const path = kept.length === 0 ? "/" : trailingSlash ? `/${kept.join("/")}/` : `/${kept.join("/")}`;
  if (end === target.length) return path === target ? target : path;
  return path + target.slice(end);
}

/**
 * One segment, `target[start..stop)`, with unreserved escapes decoded, other escapes in upper case and URI-illegal
 * bytes escaped; or the refusal it earns. Dot segments come back as "." and "..", whatever their spelling.
 */
function readSegment(target: string, start: number, stop: number, keepSlashes: boolean): string | PathRefusal {
  let out = "";
  let from = start; // target[from..i) is copied as it is
  let encodedSlash = false;
  for (let i = start; i < stop; i++) {
    const c = target.charCodeAt(i);
    if (c >= 0x80) return BAD_BYTE;
    const kind = KIND[c]!;
    if (kind === PLAIN) continue;
    if (kind === INVALID) return BAD_BYTE;
    if (kind === ESCAPE) {
      out += target.slice(from, i) + "%" + HEX[c >> 4] + HEX[c & 15];
      from = i + 1;
      continue;
    }
    if (c === BACKSLASH_BYTE) return BACKSLASH;
    // "%XX"
    const high = i + 2 < stop ? hexValue(target.charCodeAt(i + 1)) : -1;
    const low = high >= 0 ? hexValue(target.charCodeAt(i + 2)) : -1;
    if (low < 0) return BAD_ESCAPE;
    const byte = (high << 4) | low;
    if (byte === 0) return NUL;
    if (byte === SLASH || byte === BACKSLASH_BYTE) {
      if (!keepSlashes) return ENCODED_SLASH;
      encodedSlash = true;
    }
    out += target.slice(from, i) + (byte < 0x80 && UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : "%" + HEX[high] + HEX[low]);
    from = i + 3;
    i += 2;
  }
  const segment = from === start ? target.slice(start, stop) : out + target.slice(from, stop);
  if (segment.charCodeAt(0) === DOT) {
    // ".;x" and "..;x": a dot segment to servers that drop path parameters.
    const semicolon = segment.indexOf(";");
    if (semicolon === 1 || (semicolon === 2 && segment.charCodeAt(1) === DOT)) return DOT_PARAMETER;
  }
  if (encodedSlash && besideDots(segment)) return SLASH_BESIDE_DOTS;
  return segment;
}

/** Whether a segment holding kept `%2F`/`%5C` has a `..` piece between them (`..%2Fetc`, `a%2F..`). */
function besideDots(segment: string): boolean {
  return segment.split(/%2F|%5C/).includes("..");
}
