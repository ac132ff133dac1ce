// Run under Deno by tests/http-request-parser.test.ts: the parsers' conformance tables on Deno's runtime (its
// node:buffer, its typed arrays), every case whole, split byte by byte, and as growing prefixes. Prints one
// JSON line; the Bun test asserts on it.
//   deno run tests/helpers/http-parsers-deno.ts
import { parseRequestHead } from "../../gateway/http/request-parser.ts";
import { parseResponseHead } from "../../gateway/http/response-parser.ts";
import {
  chunkedCases,
  chunkedOutcome,
  decodeChunked,
  expectedChunked,
  expectedRequest,
  expectedResponse,
  latin1Bytes,
  MAX_RESPONSE_HEAD,
  prefixProblem,
  requestCases,
  requestLimits,
  requestOutcome,
  responseCases,
  responseOutcome,
} from "./http-cases.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

const failures: string[] = [];
let checked = 0;

/** Key order and undefined-valued keys do not matter, as with toEqual. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

function check(name: string, actual: unknown, expected: unknown): void {
  checked++;
  if (canonical(actual) !== canonical(expected)) failures.push(`${name}: got ${canonical(actual)}, expected ${canonical(expected)}`);
}

for (const c of requestCases) {
  const bytes = latin1Bytes(c.raw);
  const limits = requestLimits(c);
  check(`request: ${c.name}`, requestOutcome(parseRequestHead(bytes, limits), expectedRequest(c)), expectedRequest(c));
  check(
    `request prefixes: ${c.name}`,
    prefixProblem(bytes, (b) => parseRequestHead(b, limits)),
    undefined,
  );
}
for (const c of responseCases) {
  const bytes = latin1Bytes(c.raw);
  const max = c.maxHeadSize ?? MAX_RESPONSE_HEAD;
  check(`response: ${c.name}`, responseOutcome(parseResponseHead(bytes, max), expectedResponse(c)), expectedResponse(c));
  check(
    `response prefixes: ${c.name}`,
    prefixProblem(bytes, (b) => parseResponseHead(b, max)),
    undefined,
  );
}
for (const c of chunkedCases) {
  const bytes = latin1Bytes(c.raw);
  check(`chunked: ${c.name}`, chunkedOutcome(decodeChunked(bytes, Infinity, c.limits)), expectedChunked(c));
  check(`chunked byte by byte: ${c.name}`, chunkedOutcome(decodeChunked(bytes, 1, c.limits)), expectedChunked(c));
}

console.log(JSON.stringify({ runtime: typeof Deno === "object" ? "deno" : "other", checked, failures }));
