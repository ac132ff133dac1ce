// The jwt plugin's options, checked at load so that a key that cannot work is a config error with its path, not a
// 401 for every request: the secret's length, a PEM or JWK that is not a usable public key, a JWKS URL in clear
// text over the network, an algorithm no configured key can verify.
import { z } from "zod";
import { duration, identityHeaderName } from "../shared/option-types.ts";
import { ALGORITHM_NAMES, ALGORITHMS, isAlgorithm, type Algorithm } from "./algorithms.ts";
import { algorithmsOfJwk, publicJwkFromPem, secretBytes } from "./static-keys.ts";
import { SOURCE_PATTERN } from "./token-source.ts";
import type { JWK } from "jose";

const algorithm = z
  .string()
  .superRefine((name, ctx) => {
    if (name.toLowerCase() === "none") ctx.addIssue({ code: "custom", message: '"none" is never accepted: a token must be signed' });
    else if (!isAlgorithm(name)) ctx.addIssue({ code: "custom", message: `not a supported algorithm: use ${ALGORITHM_NAMES.join(", ")}` });
  })
  .transform((name) => name as Algorithm);

const oneOrMore = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const source = z.string().regex(SOURCE_PATTERN, { message: 'not a token source: use "header", "header:NAME", "cookie:NAME" or "query:NAME"' });

/** Whether `pem` is PEM text rather than the path of a PEM file. */
export function isInlinePem(text: string): boolean {
  return text.trimStart().startsWith("-----BEGIN ");
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

export const jwtOptions = z
  .strictObject({
    /** HMAC secret for HS256/384/512. */
    secret: z.string().optional(),
    secretEncoding: z.enum(["utf8", "base64"]).default("utf8"),
    /** A public key or certificate as PEM text, or the path of a PEM file (relative to the config file). */
    publicKey: z.string().min(1).optional(),
    /** A public key as a JWK object. */
    jwk: z.record(z.string(), z.unknown()).optional(),
    /** URL of a JSON Web Key Set. */
    jwks: z.string().optional(),
    jwksRefresh: duration.default(600_000),
    jwksCooldown: duration.default(30_000),
    jwksTimeout: duration.default(5_000),
    issuer: oneOrMore.optional(),
    audience: oneOrMore.optional(),
    algorithms: z.array(algorithm).min(1).optional(),
    clockTolerance: duration.default(0),
    requiredClaims: z.array(z.string().min(1)).default([]),
    from: z
      .union([source, z.array(source).min(1)])
      .default("header")
      .transform((f) => (Array.isArray(f) ? f : [f])),
    forwardClaims: z.record(z.string().min(1), identityHeaderName).default({}),
    realm: z
      .string()
      .regex(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/, { message: "printable ASCII without quotes or backslashes" })
      .optional(),
  })
  .superRefine((o, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    const publicSources = (["publicKey", "jwk", "jwks"] as const).filter((k) => o[k] !== undefined);
    if (o.secret === undefined && publicSources.length === 0) {
      ctx.addIssue({ code: "custom", path: [], message: "no key: give secret (HS256…), publicKey, jwk or jwks" });
    }
    if (publicSources.length > 1) problem(publicSources[1]!, `give one of publicKey, jwk and jwks, not ${publicSources.join(" and ")}`);

    if (o.secret !== undefined) {
      try {
        secretBytes(o.secret, o.secretEncoding);
      } catch (error) {
        problem("secret", (error as Error).message);
      }
    }
    // The algorithms a public key given here verifies; undefined when not known before setup (a PEM file) or a JWKS.
    let publicAlgorithms: Algorithm[] | undefined;
    try {
      if (o.publicKey !== undefined && isInlinePem(o.publicKey)) publicAlgorithms = algorithmsOfJwk(publicJwkFromPem(o.publicKey));
    } catch (error) {
      problem("publicKey", (error as Error).message);
    }
    try {
      if (o.jwk !== undefined) publicAlgorithms = algorithmsOfJwk(o.jwk as JWK);
    } catch (error) {
      problem("jwk", (error as Error).message);
    }
    if (o.jwks !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(o.jwks);
      } catch {
        problem("jwks", "not a URL");
      }
      if (url && url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
        problem("jwks", "use https:// (plain http:// only to a loopback address): whoever can change the key set in transit can sign tokens");
      }
    }

    for (const [i, alg] of (o.algorithms ?? []).entries()) {
      if (!isAlgorithm(alg)) continue; // reported by its own check
      const kind = ALGORITHMS[alg];
      if (kind === "secret" && o.secret === undefined) problem("algorithms", `${alg} needs secret`);
      if (kind !== "secret" && publicSources.length === 0) problem("algorithms", `${alg} needs publicKey, jwk or jwks`);
      if (kind !== "secret" && publicAlgorithms && !publicAlgorithms.includes(alg)) {
        ctx.addIssue({
          code: "custom",
          path: ["algorithms", i],
          message: `the public key given does not verify ${alg} (it verifies ${publicAlgorithms.join(", ")})`,
        });
      }
    }
  });

export type JwtOptions = z.output<typeof jwtOptions>;
