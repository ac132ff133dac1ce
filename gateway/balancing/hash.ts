// Hashing for the hash algorithms (ip-hash, uri-hash, consistent-hash): fast, non-cryptographic, and the same
// on every runtime and every gateway instance, so two gateways in front of the same servers agree on where a
// key goes.

/**
 * 32-bit FNV-1a over the string's UTF-16 code units from index `start`, finished with murmur3's fmix32: FNV-1a alone
 * spreads keys that differ only in their last characters ("/item/41", "/item/42") poorly; the finaliser
 * gives every input bit a say in every output bit. No allocation, O(length).
 */
export function hashString(s: string, start: number): number {
  // `start` has no default and the basis is forced to int32 (it is above 2^31): either costs JavaScriptCore
  // a 3–5× slower loop.
  let h = 0x811c9dc5 | 0;
  const n = s.length;
  for (let i = start; i < n; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix32(h);
}

/** murmur3's fmix32: a bijection on 32-bit integers with full avalanche. Returns an unsigned 32-bit integer. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 2^32 / golden ratio: the step between successive rehashes of a key. */
export const GOLDEN = 0x9e3779b9;

/**
 * Slow start for hash algorithms. A ramping server (effective weight below its weight) keeps a key only when
 * the key's own fraction, derived from the key hash and the server's seed, is below effective/weight; other
 * keys go where they went while the server was out (the next place on the ring, the next rehash). As the
 * ramp rises the server's set of keys only grows, so each key moves back once and never flaps; at the end
 * of the ramp it has all of them again. Servers without slow start pay one comparison.
 */
export function admits(
  server: { slowStart: number; weight: number; effectiveWeight(now: number): number },
  keyHash: number,
  seed: number,
  now: number,
): boolean {
  if (server.slowStart === 0) return true;
  const weight = server.weight;
  const effective = server.effectiveWeight(now);
  if (effective >= weight || weight <= 0) return true;
  return mix32((keyHash ^ seed) >>> 0) < (effective / weight) * 4294967296;
}
