// The response head parser against its conformance table (tests/helpers/http-cases.ts). Upstream servers get
// one answer to anything wrong, 502; each case is also fed as growing prefixes, which must wait, then answer
// exactly as for the whole input.
import { describe, expect, test } from "bun:test";
import { parseResponseHead } from "../gateway/http/response-parser.ts";
import { expectedResponse, isHeadError, latin1Bytes, MAX_RESPONSE_HEAD, prefixProblem, responseCases, responseOutcome } from "./helpers/http-cases.ts";

describe("response heads", () => {
  for (const c of responseCases) {
    test(c.name, () => {
      const bytes = latin1Bytes(c.raw);
      const max = c.maxHeadSize ?? MAX_RESPONSE_HEAD;
      const result = parseResponseHead(bytes, max);
      expect(responseOutcome(result, expectedResponse(c))).toEqual(expectedResponse(c));
      if (isHeadError(result)) expect(result.message.length).toBeGreaterThan(0);
      expect(prefixProblem(bytes, (b) => parseResponseHead(b, max))).toBeUndefined();
    });
  }
});

test("pipelined responses: each head ends exactly at its blank line", () => {
  const first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
  const second = "HTTP/1.1 204 No Content\r\n\r\n";
  const bytes = latin1Bytes(first + "hi" + second);
  const a = parseResponseHead(bytes, MAX_RESPONSE_HEAD);
  expect(a).toMatchObject({ status: 200, headBytes: first.length, contentLength: 2 });
  const b = parseResponseHead(bytes.subarray(first.length + 2), MAX_RESPONSE_HEAD);
  expect(b).toMatchObject({ status: 204, reason: "No Content", headBytes: second.length });
});
