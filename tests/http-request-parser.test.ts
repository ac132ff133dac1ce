// The request head parser against its conformance table (tests/helpers/http-cases.ts): every rule, every limit
// at the limit and one past it, and the request-smuggling shapes from public research. Each case is also fed
// to the parser one byte longer at a time, which must wait, then answer exactly as for the whole input.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseRequestHead } from "../gateway/http/request-parser.ts";
import { expectedRequest, isHeadError, latin1Bytes, prefixProblem, requestCases, requestLimits, requestOutcome } from "./helpers/http-cases.ts";
import { repoRoot } from "./helpers/process.ts";

describe("request heads", () => {
  for (const c of requestCases) {
    test(c.name, () => {
      const bytes = latin1Bytes(c.raw);
      const limits = requestLimits(c);
      const result = parseRequestHead(bytes, limits);
      expect(requestOutcome(result, expectedRequest(c))).toEqual(expectedRequest(c));
      if (isHeadError(result)) expect(result.message.length).toBeGreaterThan(0);
      expect(prefixProblem(bytes, (b) => parseRequestHead(b, limits))).toBeUndefined();
    });
  }
});

test("a head inside a larger buffer parses the same as on its own", () => {
  const raw = latin1Bytes("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
  const padded = new Uint8Array(raw.length + 20);
  padded.set(raw, 7);
  const view = padded.subarray(7, 7 + raw.length);
  expect(parseRequestHead(view, requestLimits({ name: "", raw: "", expect: 0 }))).toEqual(
    parseRequestHead(raw, requestLimits({ name: "", raw: "", expect: 0 })),
  );
});

test("the field list is a fresh array per head", () => {
  const limits = requestLimits({ name: "", raw: "", expect: 0 });
  const a = parseRequestHead(latin1Bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), limits);
  const b = parseRequestHead(latin1Bytes("GET / HTTP/1.1\r\nHost: b\r\nX: 1\r\n\r\n"), limits);
  expect(a).toMatchObject({ fields: ["Host", "a"] });
  expect(b).toMatchObject({ fields: ["Host", "b", "X", "1"] });
});

test("deno: the request, response and chunked tables give the same answers", async () => {
  const deno = resolve(repoRoot, "node_modules/.bin/deno");
  if (!existsSync(deno)) throw new Error("deno is missing: run `npm ci` (the deno npm package is a devDependency)");
  const proc = Bun.spawn([deno, "run", "--no-prompt", "tests/helpers/http-parsers-deno.ts"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`deno exited ${code}:\n${err}\n${out}`);
  const result = JSON.parse(out.trim().split("\n").at(-1)!);
  expect(result.runtime).toBe("deno");
  expect(result.failures).toEqual([]);
  expect(result.checked).toBeGreaterThan(200);
}, 30_000);
