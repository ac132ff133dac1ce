// Which HTTP statuses count as a passing check: `expect` is a list of codes and ranges, "200-399" or
// "200,204" or "200-299,301" (nginx-plus `match { status ... }`, HAProxy `http-check expect status`).

export interface StatusExpectation {
  test(status: number): boolean;
  /** The expectation as written, for log lines and /status. */
  readonly text: string;
}

/**
 * Compile an `expect` value. The schema has checked its shape already; a range written backwards
 * ("399-200") is read as the same range forwards. Throws on anything else, which the schema never lets through.
 */
export function parseStatusExpectation(text: string): StatusExpectation {
  const ranges: Array<[number, number]> = [];
  for (const part of text.split(",")) {
    const m = /^\s*([1-5]\d\d)\s*(?:-\s*([1-5]\d\d)\s*)?$/.exec(part);
    if (!m) throw new Error(`not a status range: ${JSON.stringify(text)} (use "200-399" or "200,204")`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    ranges.push(a <= b ? [a, b] : [b, a]);
  }
  return {
    text,
    test: (status) => ranges.some(([low, high]) => status >= low && status <= high),
  };
}
