// Verifies one token against the configured keys and claims rules, and says why a token is refused in words a
// client may read. Everything that can be decided once (keys, algorithms, jose's options) is decided at setup.
import { errors, jwtVerify, type JWTPayload, type JWTVerifyOptions, type JWSHeaderParameters, type FlattenedJWSInput } from "jose";
import { ALGORITHMS, isAlgorithm, type Algorithm } from "./algorithms.ts";
import type { KeysByAlgorithm } from "./static-keys.ts";
import { KeySetUnavailable, type RemoteKeySet } from "./remote-key-set.ts";
import { UnforwardableClaim, type HeaderPairs } from "./claim-headers.ts";
import { VerifiedTokens } from "./verified-tokens.ts";

export type Verdict =
  | { ok: true; payload: JWTPayload; headers: HeaderPairs }
  /** `status` 401 (the token's fault) or 503 (no keys to check it with); `reason` may be shown to the client. */
  | { ok: false; status: 401 | 503; reason: string; detail?: string };

export interface VerifierSetup {
  algorithms: readonly Algorithm[];
  /** Keys given in the config, by algorithm. */
  staticKeys: KeysByAlgorithm;
  /** The JWKS, for public-key algorithms without a static key. */
  remote?: RemoteKeySet;
  issuer?: string | string[];
  audience?: string | string[];
  clockToleranceMs: number;
  requiredClaims: readonly string[];
  /** The headers a verified token's claims become (may throw UnforwardableClaim). */
  claimHeaders(payload: JWTPayload): HeaderPairs;
}

/** Compact JWS: three base64url parts (the signature may not be empty: `alg: none` tokens end with a dot). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 16 * 1024;

class NoKeyForAlgorithm extends Error {}

/**
 * The verifier: a verdict at once for a malformed token and for one verified before (most requests of a session),
 * a promise only when a signature has to be checked — so a cached token costs the request no suspension.
 */
export function createVerifier(setup: VerifierSetup): (token: string) => Verdict | Promise<Verdict> {
  const options: JWTVerifyOptions = {
    algorithms: [...setup.algorithms],
    issuer: setup.issuer,
    audience: setup.audience,
    clockTolerance: setup.clockToleranceMs / 1000,
    requiredClaims: [...setup.requiredClaims],
  };
  const { staticKeys, remote } = setup;
  // HMAC algorithms only ever get the secret, public-key algorithms only ever a public key (algorithm confusion).
  const keyFor = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const alg = header.alg;
    if (alg === undefined || !isAlgorithm(alg)) throw new NoKeyForAlgorithm(`no key for alg ${alg}`);
    const key = staticKeys.get(alg);
    if (key) return key;
    if (ALGORITHMS[alg] !== "secret" && remote) return remote.key(header, token);
    throw new NoKeyForAlgorithm(`no key for alg ${alg}`);
  };
  const verified = new VerifiedTokens<Verdict & { ok: true }>(4096, 5 * 60_000);

  const verifySignature = async (token: string, now: number, generation: number): Promise<Verdict> => {
    let payload: JWTPayload;
    try {
      payload = await verifyWithEachMatch(token, keyFor, options);
    } catch (error) {
      return verdictOf(error);
    }
    let headers: HeaderPairs;
    try {
      headers = setup.claimHeaders(payload);
    } catch (error) {
      return verdictOf(error);
    }
    const expiresAt = typeof payload.exp === "number" ? payload.exp * 1000 + setup.clockToleranceMs : Infinity;
    const verdict = { ok: true as const, payload, headers };
    verified.set(token, verdict, now, expiresAt, generation);
    return verdict;
  };

  return (token) => {
    if (token.length > MAX_TOKEN_LENGTH) return refused("malformed token");
    const now = Date.now();
    remote?.refreshIfStale(now);
    const generation = remote?.generation ?? 0;
    // Only tokens that passed every check are remembered, so a remembered one needs no look at its form.
    const known = verified.get(token, now, generation);
    if (known) return known;
    if (!COMPACT_JWS.test(token)) return refused("malformed token");
    return verifySignature(token, now, generation);
  };
}

/**
 * jwtVerify, also for a token without `kid` that several keys of a JWKS could have signed (a key rotation in
 * progress): each candidate is tried in turn.
 */
async function verifyWithEachMatch(
  token: string,
  keyFor: (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, keyFor, options)).payload;
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    let last: unknown = error;
    for await (const key of error as unknown as AsyncIterable<CryptoKey>) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (next) {
        last = next;
        if (!(next instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw last;
  }
}

function refused(reason: string, detail?: string): Verdict {
  return { ok: false, status: 401, reason, detail };
}

function verdictOf(error: unknown): Verdict {
  if (error instanceof KeySetUnavailable) return { ok: false, status: 503, reason: "authentication keys unavailable", detail: error.message };
  if (error instanceof errors.JWTExpired) return refused("token expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return refused(`token lacks the ${error.claim} claim`);
    if (error.claim === "nbf") return refused("token not yet valid");
    if (error.claim === "iss") return refused("token issuer not accepted");
    if (error.claim === "aud") return refused("token audience not accepted");
    if (error.claim === "iat") return refused("token issued in the future");
    return refused(`token ${error.claim} claim not accepted`, error.message);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return refused("token algorithm not accepted");
  if (error instanceof errors.JWSSignatureVerificationFailed) return refused("token signature invalid");
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof NoKeyForAlgorithm) return refused("no key matches the token", (error as Error).message);
  if (error instanceof UnforwardableClaim) return refused("token claim cannot be forwarded", error.message);
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return refused("malformed token", error.message);
  return refused("token not accepted", (error as Error)?.message ?? String(error));
}
