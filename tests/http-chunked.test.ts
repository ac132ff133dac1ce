// The chunked decoder against its conformance table (tests/helpers/http-cases.ts), each case decoded in one
// call and again one byte per call; and the encoder pieces.
import { describe, expect, test } from "bun:test";
import { CHUNK_END, ChunkedDecoder, chunkHead, lastChunk } from "../gateway/http/chunked.ts";
import { chunkedCases, chunkedOutcome, decodeChunked, expectedChunked, latin1Bytes } from "./helpers/http-cases.ts";

const text = (bytes: Uint8Array) => String.fromCharCode(...bytes);

describe("chunked bodies", () => {
  for (const c of chunkedCases) {
    test(c.name, () => {
      const bytes = latin1Bytes(c.raw);
      const whole = decodeChunked(bytes, Infinity, c.limits);
      expect(chunkedOutcome(whole)).toEqual(expectedChunked(c));
      expect(chunkedOutcome(decodeChunked(bytes, 1, c.limits))).toEqual(expectedChunked(c));
      if (c.expect === "error") expect(whole.error!.length).toBeGreaterThan(0);
    });
  }
});

describe("the decoder's contract", () => {
  test("push decodes only bytes[start..end) and hands out subarrays of the input", () => {
    const bytes = latin1Bytes("xx5\r\nhello\r\n0\r\n\r\nyy");
    const decoder = new ChunkedDecoder();
    const seen: Uint8Array[] = [];
    const next = decoder.push(bytes, 2, bytes.length - 2, (data) => seen.push(data));
    expect(next).toBe(bytes.length - 2);
    expect(decoder.done).toBe(true);
    expect(seen.map(text)).toEqual(["hello"]);
    expect(seen[0]!.buffer).toBe(bytes.buffer);
    expect(decoder.bodyBytes).toBe(5);
  });

  test("after done, push consumes nothing; after an error, push keeps answering -1", () => {
    const done = new ChunkedDecoder();
    const bytes = latin1Bytes("0\r\n\r\nGET");
    expect(done.push(bytes, 0, bytes.length, () => {})).toBe(5);
    expect(done.push(bytes, 5, bytes.length, () => {})).toBe(5);
    const failed = new ChunkedDecoder();
    const bad = latin1Bytes("zz\r\n");
    expect(failed.push(bad, 0, bad.length, () => {})).toBe(-1);
    expect(failed.error).toBe("invalid chunk size");
    expect(failed.push(latin1Bytes("0\r\n\r\n"), 0, 5, () => {})).toBe(-1);
  });

  test("bodyBytes counts data as it is decoded, across chunks", () => {
    const decoder = new ChunkedDecoder();
    const bytes = latin1Bytes("3\r\nabc\r\n4\r\ndefg\r\n");
    decoder.push(bytes, 0, 10, () => {});
    expect(decoder.bodyBytes).toBe(3);
    decoder.push(bytes, 10, bytes.length, () => {});
    expect(decoder.bodyBytes).toBe(7);
    expect(decoder.done).toBe(false);
    expect(decoder.trailers).toEqual([]);
  });

  test("default limits: a 4 KiB size line and a 16 KiB trailer section", () => {
    const line = (length: number) => latin1Bytes("1;" + "e".repeat(length - 2) + "\r\nx\r\n0\r\n\r\n");
    expect(decodeChunked(line(4096), Infinity).done).toBe(true);
    expect(decodeChunked(line(4097), Infinity).error).toBe("chunk-size line too long");
    const trailers = (size: number) => latin1Bytes("0\r\nX: " + "t".repeat(size - 5) + "\r\n\r\n");
    expect(decodeChunked(trailers(16384), Infinity).trailers[1]!.length).toBe(16379);
    expect(decodeChunked(trailers(16385), Infinity).error).toBe("trailer section too large");
  });
});

describe("encoder pieces", () => {
  test("chunkHead writes the size in lower-case hex and CRLF", () => {
    expect(text(chunkHead(1))).toBe("1\r\n");
    expect(text(chunkHead(255))).toBe("ff\r\n");
    expect(text(chunkHead(65536))).toBe("10000\r\n");
    expect(text(chunkHead(Number.MAX_SAFE_INTEGER))).toBe("1fffffffffffff\r\n");
  });

  test("chunkHead refuses sizes that are not positive safe integers (0 would end the body)", () => {
    for (const size of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Infinity]) expect(() => chunkHead(size)).toThrow(RangeError);
  });

  test("CHUNK_END and lastChunk", () => {
    expect(text(CHUNK_END)).toBe("\r\n");
    expect(text(lastChunk())).toBe("0\r\n\r\n");
    expect(text(lastChunk([]))).toBe("0\r\n\r\n");
    expect(text(lastChunk(["X-Sum", "abc", "Grpc-Status", "0"]))).toBe("0\r\nX-Sum: abc\r\nGrpc-Status: 0\r\n\r\n");
    expect(text(lastChunk(["X", "caf\xe9"]))).toBe("0\r\nX: caf\xe9\r\n\r\n");
  });

  test("lastChunk refuses trailers that would forge framing", () => {
    expect(() => lastChunk(["X", "a\r\nContent-Length: 0"])).toThrow(TypeError);
    expect(() => lastChunk(["X", "a\nb"])).toThrow(TypeError);
    expect(() => lastChunk(["X", "a\x00"])).toThrow(TypeError);
    expect(() => lastChunk(["X: y", "1"])).toThrow(TypeError);
    expect(() => lastChunk(["", "1"])).toThrow(TypeError);
    expect(() => lastChunk(["X", "\u0100"])).toThrow(TypeError);
  });
});
