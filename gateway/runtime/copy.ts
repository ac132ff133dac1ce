// What a socket adapter keeps of a write it could not send at once must be its own copy: the caller may reuse
// its buffer as soon as write returns. `slice` is not enough, since on a node:buffer Buffer it makes a view.

const slice = Uint8Array.prototype.slice;

/** A copy of `bytes[start..end)`, whatever kind of Uint8Array `bytes` is. */
export function copyOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return slice.call(bytes, start, end);
}
