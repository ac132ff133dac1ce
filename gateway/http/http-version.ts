// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3): the end of a request line, the start of a status line.
// Both parsers check it byte by byte as the bytes arrive, so garbage is refused before its line ends.

/** "HTTP/" */
const NAME = new Uint8Array([0x48, 0x54, 0x54, 0x50, 0x2f]);

/** Whether `byte` may stand at offset `k` (0 to 7) of an HTTP-version. */
export function fitsHttpVersion(byte: number, k: number): boolean {
  if (k < 5) return byte === NAME[k];
  return k === 6 ? byte === 0x2e : byte >= 0x30 && byte <= 0x39;
}
