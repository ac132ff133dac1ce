// jwt: requests need a valid JSON Web Token (signed with an HMAC secret or a public key, from the config or a
// JWKS URL); its claims may be passed to the upstream as headers. Like Kong's jwt, Traefik's JWT middlewares and
// Envoy's jwt_authn.
//
// The middleware is the gate: it answers 401 (or 503 when no key set could be fetched) before anything else of
// the route runs. With `forwardClaims`, the beforeUpstream phase writes the claim headers the middleware found and
// removes every client-sent copy of them, whether or not a claim is there to replace it; it refuses a request the
// middleware did not pass, so no path around the middleware reaches the upstream.
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { MiddlewareHandler } from "hono";
import type { JWK } from "jose";
import { definePlugin, type GatewayEnv } from "../../gateway/mod.ts";
import { algorithmsFor, ALGORITHMS, PUBLIC_KEY_ALGORITHMS, type Algorithm } from "./algorithms.ts";
import { compileClaimHeaders, type HeaderPairs } from "./claim-headers.ts";
import { isInlinePem, jwtOptions, type JwtOptions } from "./options.ts";
import { RemoteKeySet } from "./remote-key-set.ts";
import { algorithmsOfJwk, importPublicJwk, importSecret, publicJwkFromPem, secretBytes, type KeysByAlgorithm } from "./static-keys.ts";
import { findToken, tokenSource } from "./token-source.ts";
import { createVerifier, type Verdict } from "./verifier.ts";

export default definePlugin({
  name: "jwt",
  options: jwtOptions,
  async setup(o, { configDir, log }) {
    const publicJwk = await publicJwkOf(o, configDir);
    const algorithms = allowedAlgorithms(o, publicJwk);
    const staticKeys: KeysByAlgorithm = new Map();
    if (o.secret !== undefined) await importSecret(secretBytes(o.secret, o.secretEncoding), algorithms, staticKeys);
    if (publicJwk) await importPublicJwk(publicJwk, algorithms, staticKeys);
    const remote = o.jwks === undefined ? undefined : new RemoteKeySet(new URL(o.jwks), {
      refreshMs: o.jwksRefresh,
      cooldownMs: o.jwksCooldown,
      timeoutMs: o.jwksTimeout,
      log,
    });
    remote?.warmUp();

    const claimHeaders = compileClaimHeaders(o.forwardClaims);
    const verify = createVerifier({
      algorithms,
      staticKeys,
      remote,
      issuer: o.issuer,
      audience: o.audience,
      clockToleranceMs: o.clockTolerance,
      requiredClaims: o.requiredClaims,
      claimHeaders,
    });
    const sources = o.from.map(tokenSource);
    const challenge = o.realm === undefined ? "Bearer" : `Bearer realm="${o.realm}"`;
    const forwarded = Object.values(o.forwardClaims);
    // What the middleware let through, for the beforeUpstream phase of the same request (keyed by its Request).
    const passed = new WeakMap<Request, HeaderPairs>();

    const middleware: MiddlewareHandler<GatewayEnv> = async (c, next) => {
      const token = findToken(c, sources);
      const verdict: Verdict = token === undefined
        ? { ok: false, status: 401, reason: "bearer token required" }
        : await verify(token);
      if (!verdict.ok) {
        c.get("log").error = `jwt: ${verdict.reason}${verdict.detail ? ` (${verdict.detail})` : ""}`;
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (verdict.status === 401) {
          // RFC 6750 §3.1: a request without a token gets the bare challenge; a bad token is named invalid_token.
          headers["www-authenticate"] = token === undefined
            ? challenge
            : `${challenge}${o.realm === undefined ? " " : ", "}error="invalid_token", error_description="${verdict.reason}"`;
        }
        return new Response(JSON.stringify({ error: verdict.reason, requestId: c.get("requestId") }), { status: verdict.status, headers });
      }
      // Where hono's own jwt middleware keeps the verified claims; rate-limit's `claim:NAME` keys read them here.
      (c.set as unknown as (key: string, value: unknown) => void)("jwtPayload", verdict.payload);
      if (forwarded.length > 0) passed.set(c.req.raw, verdict.headers);
      await next();
    };
    // An in-flight key set fetch of a replaced config is cancelled (nothing else outlives it: no timer runs).
    const teardown = () => remote?.close();
    if (forwarded.length === 0) return { middleware, teardown };
    return {
      middleware,
      teardown,
      beforeUpstream(ctx) {
        const headers = ctx.upstream.headers;
        for (const name of forwarded) headers.delete(name);
        const pairs = passed.get(ctx.request);
        if (pairs === undefined) {
          return new Response(JSON.stringify({ error: "bearer token required", requestId: ctx.requestId }), {
            status: 401,
            headers: { "content-type": "application/json", "www-authenticate": challenge },
          });
        }
        for (const [name, value] of pairs) headers.set(name, value);
      },
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
