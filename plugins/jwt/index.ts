// jwt: requests need a valid JSON Web Token (signed with an HMAC secret or a public key, from the config or a
// JWKS URL); its claims may be passed to the upstream as headers. Like Kong's jwt, Traefik's JWT middlewares and
// Envoy's jwt_authn.
//
// The plugin works in the onRequest phase, on the engine's byte path: it is the gate of its route, answering 401
// (or 503 while no key set could be fetched) before a server is chosen and before anything later of the route runs.
// A request it passes goes up without any client-sent copy of the `forwardClaims` headers, with the token's claims
// in their place when it has them, and leaves the verified claims in `vars` for later hooks.
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { JWK } from "jose";
import { definePlugin, type GatewayAnswer, type GatewayRequest } from "../../gateway/mod.ts";
import { algorithmsFor, ALGORITHMS, PUBLIC_KEY_ALGORITHMS, type Algorithm } from "./algorithms.ts";
import { compileClaimHeaders } from "./claim-headers.ts";
import { isInlinePem, jwtOptions, type JwtOptions } from "./options.ts";
import { RemoteKeySet } from "./remote-key-set.ts";
import { algorithmsOfJwk, importPublicJwk, importSecret, publicJwkFromPem, secretBytes, type KeysByAlgorithm } from "./static-keys.ts";
import { findToken, tokenSource } from "./token-source.ts";
import { createVerifier, type Verdict } from "./verifier.ts";

/**
 * Where the verified claims are left for later hooks of the request (`req.vars`, `ctx.vars`): the name hono's own
 * jwt middleware uses, which the rate-limit plugin's `claim:NAME` keys read.
 */
const VERIFIED_CLAIMS = "jwtPayload";

export default definePlugin({
  name: "jwt",
  options: jwtOptions,
  async setup(o, { configDir, log }) {
    const publicJwk = await publicJwkOf(o, configDir);
    const algorithms = allowedAlgorithms(o, publicJwk);
    const staticKeys: KeysByAlgorithm = new Map();
    if (o.secret !== undefined) await importSecret(secretBytes(o.secret, o.secretEncoding), algorithms, staticKeys);
    if (publicJwk) await importPublicJwk(publicJwk, algorithms, staticKeys);
    const remote =
      o.jwks === undefined
        ? undefined
        : new RemoteKeySet(new URL(o.jwks), {
            refreshMs: o.jwksRefresh,
            cooldownMs: o.jwksCooldown,
            timeoutMs: o.jwksTimeout,
            log,
          });
    remote?.warmUp();

    const verify = createVerifier({
      algorithms,
      staticKeys,
      remote,
      issuer: o.issuer,
      audience: o.audience,
      clockToleranceMs: o.clockTolerance,
      requiredClaims: o.requiredClaims,
      claimHeaders: compileClaimHeaders(o.forwardClaims),
    });
    const sources = o.from.map(tokenSource);
    const challenge = o.realm === undefined ? "Bearer" : `Bearer realm="${o.realm}"`;
    const forwarded = Object.values(o.forwardClaims);

    /** The request goes on with what the token proved, or gets the refusal. */
    const decide = (req: GatewayRequest, token: string | undefined, verdict: Verdict): GatewayAnswer | undefined => {
      if (!verdict.ok) {
        // RFC 6750 §3.1: a request without a token gets the bare challenge; a bad token is named invalid_token.
        const headers =
          verdict.status !== 401
            ? undefined
            : {
                "www-authenticate":
                  token === undefined
                    ? challenge
                    : `${challenge}${o.realm === undefined ? " " : ", "}error="invalid_token", error_description="${verdict.reason}"`,
              };
        const logError = `jwt: ${verdict.reason}${verdict.detail ? ` (${verdict.detail})` : ""}`;
        return { status: verdict.status, headers, json: { error: verdict.reason, requestId: req.requestId }, logError };
      }
      req.vars.set(VERIFIED_CLAIMS, verdict.payload);
      // Every client-sent copy goes, whether or not the token has the claim to put in its place.
      for (const name of forwarded) req.removeHeader(name);
      for (const [name, value] of verdict.headers) req.setHeader(name, value);
      return undefined;
    };

    return {
      onRequest(req) {
        const token = findToken(req, sources);
        if (token === undefined) return decide(req, token, { ok: false, status: 401, reason: "bearer token required" });
        const verdict = verify(token);
        // A token verified before is decided at once; only a signature check suspends the request.
        return verdict instanceof Promise ? verdict.then((v) => decide(req, token, v)) : decide(req, token, verdict);
      },
      // An in-flight key set fetch of a replaced config is cancelled (nothing else outlives it: no timer runs).
      teardown: () => remote?.close(),
    };
  },
});

/** The public key given as `publicKey` (PEM text or file) or `jwk`, as a JWK. */
async function publicJwkOf(o: JwtOptions, configDir: string): Promise<JWK | undefined> {
  if (o.jwk !== undefined) return o.jwk as JWK;
  if (o.publicKey === undefined) return undefined;
  if (isInlinePem(o.publicKey)) return publicJwkFromPem(o.publicKey);
  const path = isAbsolute(o.publicKey) ? o.publicKey : resolve(configDir, o.publicKey);
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`options.publicKey: cannot read ${path} (${(error as { code?: string }).code ?? (error as Error).message})`);
  }
  try {
    return publicJwkFromPem(pem);
  } catch (error) {
    throw new Error(`options.publicKey: ${path}: ${(error as Error).message}`);
  }
}

/** `algorithms` as given, or every algorithm the configured keys verify; never `none`, never an unkeyed one. */
function allowedAlgorithms(o: JwtOptions, publicJwk: JWK | undefined): Algorithm[] {
  const publicAlgorithms = publicJwk ? algorithmsOfJwk(publicJwk) : o.jwks !== undefined ? PUBLIC_KEY_ALGORITHMS : [];
  if (o.algorithms) {
    // A PEM file is read only now: its key type is checked here rather than with the other options.
    const unverifiable = o.algorithms.filter((alg) => ALGORITHMS[alg] !== "secret" && !publicAlgorithms.includes(alg));
    if (unverifiable.length > 0) {
      throw new Error(`options.algorithms: the public key given does not verify ${unverifiable.join(", ")} (it verifies ${publicAlgorithms.join(", ")})`);
    }
    return [...new Set(o.algorithms)];
  }
  return [...(o.secret !== undefined ? algorithmsFor("secret") : []), ...publicAlgorithms];
}
