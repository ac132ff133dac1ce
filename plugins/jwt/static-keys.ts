// Keys given in the config (an HMAC `secret`, a PEM `publicKey`, a `jwk`), checked and imported once at setup:
// a request only looks its key up by algorithm, it never parses or imports one.
import { createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import { importJWK, type JWK } from "jose";
import { ALGORITHMS, algorithmsFor, type Algorithm, type KeyKind } from "./algorithms.ts";

/** RFC 7518 §3.2: an HMAC key at least as long as the hash; 32 bytes is the floor for HS256, the weakest allowed. */
export const MIN_SECRET_BYTES = 32;

/** The bytes of the `secret` option. Throws a message for the config's reader. */
export function secretBytes(secret: string, encoding: "utf8" | "base64"): Uint8Array {
  if (/^-----BEGIN /.test(secret.trim())) throw new Error("a PEM key is not an HMAC secret: give it as publicKey");
  let bytes: Uint8Array;
  if (encoding === "utf8") bytes = new TextEncoder().encode(secret);
  else {
    // base64 or base64url, padded or not.
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(secret)) throw new Error("not base64");
    const standard = secret.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
    bytes = Uint8Array.from(atob(standard + "=".repeat((4 - (standard.length % 4)) % 4)), (ch) => ch.charCodeAt(0));
  }
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new Error(`too short: an HMAC secret needs at least ${MIN_SECRET_BYTES} bytes (256 bits); this one has ${bytes.length}`);
  }
  return bytes;
}

/** A public key as a JWK, from PEM text: "PUBLIC KEY" (SPKI), "RSA PUBLIC KEY" (PKCS#1) or an X.509 "CERTIFICATE". */
export function publicJwkFromPem(pem: string): JWK {
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (!label) throw new Error("not a PEM key: expected -----BEGIN PUBLIC KEY----- or -----BEGIN CERTIFICATE-----");
  if (label.includes("PRIVATE")) throw new Error("a private key: give the public key (the gateway only verifies tokens)");
  let key: KeyObject;
  try {
    key = label === "CERTIFICATE" ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  } catch {
    throw new Error(`not a readable ${label}`);
  }
  return key.export({ format: "jwk" }) as JWK;
}

const CURVES = new Set<string>(["P-256", "P-384", "P-521", "Ed25519"]);

/** What a public JWK verifies, or an Error saying why it cannot be used. */
export function keyKindOf(jwk: JWK): KeyKind {
  if (typeof jwk !== "object" || jwk === null || typeof jwk.kty !== "string") throw new Error("not a JWK: it needs a kty");
  if ("d" in jwk) throw new Error("a private key: give the public key (the gateway only verifies tokens)");
  if (jwk.use !== undefined && jwk.use !== "sig") throw new Error(`a key for "${jwk.use}", not for signatures`);
  if (jwk.kty === "oct") throw new Error("an HMAC key: give it as secret");
  let kind: KeyKind;
  if (jwk.kty === "RSA") {
    if (typeof jwk.n !== "string" || typeof jwk.e !== "string") throw new Error("an RSA JWK needs n and e");
    const bits = rsaBits(jwk.n);
    if (bits < 2048) throw new Error(`an RSA key of ${bits} bits: at least 2048 are needed`);
    kind = "RSA";
  } else if (jwk.kty === "EC" || jwk.kty === "OKP") {
    if (typeof jwk.crv !== "string" || !CURVES.has(jwk.crv))
      throw new Error(`curve ${JSON.stringify(jwk.crv)} is not supported: use P-256, P-384, P-521 or Ed25519`);
    kind = jwk.crv as KeyKind;
  } else throw new Error(`key type ${JSON.stringify(jwk.kty)} is not supported: use RSA, EC or OKP`);
  if (jwk.alg !== undefined && (typeof jwk.alg !== "string" || ALGORITHMS[jwk.alg as Algorithm] !== kind)) {
    throw new Error(`its alg ${JSON.stringify(jwk.alg)} does not fit a ${kind} key`);
  }
  return kind;
}

/** The algorithms a public JWK may verify: its own `alg` if it names one, else every algorithm of its kind. */
export function algorithmsOfJwk(jwk: JWK): Algorithm[] {
  return jwk.alg ? [jwk.alg as Algorithm] : algorithmsFor(keyKindOf(jwk));
}

function rsaBits(n: string): number {
  const bytes = atob(
    n
      .replace(/-/g, "+")
      .replace(/_/g, "/")
      .padEnd(Math.ceil(n.length / 4) * 4, "="),
  );
  let leading = 0;
  while (leading < bytes.length && bytes.charCodeAt(leading) === 0) leading++;
  return (bytes.length - leading) * 8;
}

/** One CryptoKey per algorithm: WebCrypto binds a key to its algorithm (and, for HMAC, to its hash). */
export type KeysByAlgorithm = Map<Algorithm, CryptoKey>;

export async function importSecret(bytes: Uint8Array, algorithms: readonly Algorithm[], into: KeysByAlgorithm): Promise<void> {
  for (const alg of algorithms) {
    if (ALGORITHMS[alg] !== "secret") continue;
    const hash = `SHA-${alg.slice(2)}`;
    into.set(alg, await crypto.subtle.importKey("raw", bytes as BufferSource, { name: "HMAC", hash }, false, ["verify"]));
  }
}

export async function importPublicJwk(jwk: JWK, algorithms: readonly Algorithm[], into: KeysByAlgorithm): Promise<void> {
  const own = new Set(algorithmsOfJwk(jwk));
  for (const alg of algorithms) {
    if (!own.has(alg)) continue;
    into.set(alg, (await importJWK(jwk, alg)) as CryptoKey);
  }
}
