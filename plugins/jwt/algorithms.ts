// The signature algorithms the jwt plugin accepts, and the kind of key each one needs. Keeping the HMAC family
// apart from the public-key families is what stops algorithm confusion: a token that declares HS256 is only ever
// checked against the configured secret, and one that declares RS256, ES256 or EdDSA only against a public key.
// `none` is not in this list, so no option can ever let an unsigned token through.

/** What a key must be to verify an algorithm: an HMAC secret, an RSA key, or an EC/OKP key on one curve. */
export type KeyKind = "secret" | "RSA" | "P-256" | "P-384" | "P-521" | "Ed25519";

export const ALGORITHMS = {
  HS256: "secret",
  HS384: "secret",
  HS512: "secret",
  RS256: "RSA",
  RS384: "RSA",
  RS512: "RSA",
  PS256: "RSA",
  PS384: "RSA",
  PS512: "RSA",
  ES256: "P-256",
  ES384: "P-384",
  ES512: "P-521",
  EdDSA: "Ed25519",
  Ed25519: "Ed25519",
} as const satisfies Record<string, KeyKind>;

export type Algorithm = keyof typeof ALGORITHMS;

export const ALGORITHM_NAMES = Object.keys(ALGORITHMS) as Algorithm[];

export function isAlgorithm(name: string): name is Algorithm {
  return Object.hasOwn(ALGORITHMS, name);
}

/** The algorithms a key of this kind verifies. */
export function algorithmsFor(kind: KeyKind): Algorithm[] {
  return ALGORITHM_NAMES.filter((alg) => ALGORITHMS[alg] === kind);
}

/** Every public-key algorithm: what a JWKS may hold keys for. */
export const PUBLIC_KEY_ALGORITHMS = ALGORITHM_NAMES.filter((alg) => ALGORITHMS[alg] !== "secret");
