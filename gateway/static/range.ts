// The Range header (RFC 9110 §14): one byte range is honoured with 206; several ranges are answered with
// the whole file (200), which the RFC allows and which spares a multipart/byteranges body; a header that does
// not parse, or names another unit, is ignored.
export type RangeRequest = { kind: "none" } | { kind: "range"; start: number; end: number } | { kind: "unsatisfiable" };

const SPEC = /^(\d*)-(\d*)$/;

/** The byte range a Range header asks of a file of `size` bytes (inclusive ends). */
export function parseRange(header: string | null, size: number): RangeRequest {
  if (header === null) return { kind: "none" };
  const eq = header.indexOf("=");
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== "bytes") return { kind: "none" };
  const set = header.slice(eq + 1).trim();
  if (set.includes(",")) return { kind: "none" }; // several ranges: answer with the whole representation
  const m = SPEC.exec(set);
  if (!m) return { kind: "none" };
  const [, first, last] = m as unknown as [string, string, string];
  if (first === "") {
    if (last === "") return { kind: "none" };
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return { kind: "none" }; // invalid: ignored
  if (start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: "range", start, end };
}
