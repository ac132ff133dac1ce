// The jwt plugin end to end: a real gateway in front of a real upstream that records the headers it received, with
// tokens signed in the test by jose (HS256, RS256, PS256, ES256, EdDSA), keys from a secret, a PEM text, a PEM file,
// a JWK and JWKS servers on 127.0.0.1 (rotation, cooldown, background refresh, a server that is down); refusals
// (expired, not yet valid, wrong issuer or audience, alg none, algorithm confusion, tampering); tokens from cookies
// and query strings; forwarded claims and stripped client copies; the route kept on the engine's byte path (no
// Request object) with the claims handed to later hooks; the option errors `sluice check` prints.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { exportJWK, exportSPKI, generateKeyPair, importPKCS8, importSPKI, SignJWT, type JWK, type JWTPayload } from "jose";
import { startGateway } from "../gateway/gateway.ts";
import { deadPort, until } from "./helpers/common.ts";
import { runCli } from "./helpers/process.ts";
import { requestObjectsMade } from "./helpers/request-objects.ts";
import { rawRequest, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

const ISSUER = "https://issuer.test";
const AUDIENCE = "sluice-tests";
const SECRET = "a-test-secret-of-at-least-32-bytes-long!";
const OTHER_SECRET = "another-secret-also-32-bytes-or-longer!!";

type KeyPair = { publicKey: CryptoKey; privateKey: CryptoKey };

async function keyPair(alg: string): Promise<KeyPair> {
  return (await generateKeyPair(alg, { extractable: true })) as KeyPair;
}

/** One RSA key pair whose private key signs both RS256 and PS256 (WebCrypto binds a key to one of them). */
async function rsaPair(): Promise<{ publicKey: CryptoKey; rs256: CryptoKey; ps256: CryptoKey }> {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  return {
    publicKey: await importSPKI(publicKey.export({ type: "spki", format: "pem" }) as string, "RS256", { extractable: true }),
    rs256: await importPKCS8(pkcs8, "RS256"),
    ps256: await importPKCS8(pkcs8, "PS256"),
  };
}

function b64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}

/** A signed token: claims default to a valid subject, issuer, audience and a 5-minute lifetime. */
async function sign(alg: string, key: CryptoKey | Uint8Array, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: "user-1", iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg, ...header }).sign(key);
}

const claimsWitness = resolve(import.meta.dir, "fixtures/plugins/claims-witness.ts");

const secretKey = (secret: string) => new TextEncoder().encode(secret);

/** A JWKS server whose keys the test swaps, counting the fetches it answers. */
function startJwks(keys: JWK[]) {
  let current = keys;
  let hits = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch() {
      hits++;
      return Response.json({ keys: current });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/jwks.json`,
    get hits() {
      return hits;
    },
    set keys(next: JWK[]) {
      current = next;
    },
    stop: () => server.stop(true),
  };
}

async function publicJwk(pair: KeyPair, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" };
}

/** A WebSocket upstream that echoes messages and keeps the handshake headers it received. */
function startSocketUpstream() {
  const handshakes: Headers[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, srv) {
      handshakes.push(request.headers);
      return srv.upgrade(request, { data: undefined }) ? undefined : new Response("not an upgrade", { status: 400 });
    },
    websocket: {
      message(ws, message) {
        ws.send(`echo ${message}`);
      },
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, handshakes, server };
}

/** Open a WebSocket through the gateway; resolves with the first echo, or the failure. */
function socketExchange(path: string, headers: Record<string, string>): Promise<{ echo?: string; failed?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(gw.url.replace("http", "ws") + path, { headers } as unknown as string[]);
    ws.onopen = () => ws.send("hi");
    ws.onmessage = (event) => {
      resolve({ echo: String(event.data) });
      ws.close();
    };
    ws.onerror = (event) => resolve({ failed: (event as ErrorEvent).message ?? "error" });
  });
}

let dir: string;
let up: Upstream;
let sockets: ReturnType<typeof startSocketUpstream>;
let gw: Gateway;
let rsa: Awaited<ReturnType<typeof rsaPair>>;
let rsaPem: string;
let ec: KeyPair;
let ed: KeyPair;
let k1: KeyPair;
let k2: KeyPair;
let k3: KeyPair;
let rotating: ReturnType<typeof startJwks>;
let guarded: ReturnType<typeof startJwks>;
let refreshing: ReturnType<typeof startJwks>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-jwt-"));
  rsa = await rsaPair();
  [ec, ed, k1, k2, k3] = await Promise.all([keyPair("ES256"), keyPair("EdDSA"), keyPair("RS256"), keyPair("ES256"), keyPair("RS256")]);
  rsaPem = await exportSPKI(rsa.publicKey);
  await mkdir(join(dir, "keys"));
  await writeFile(join(dir, "keys/ed25519.pem"), await exportSPKI(ed.publicKey));
  rotating = startJwks([await publicJwk(k1, "k1", "RS256")]);
  guarded = startJwks([await publicJwk(k1, "k1", "RS256")]);
  refreshing = startJwks([await publicJwk(k1, "k1", "RS256")]);
  const dead = await deadPort();

  up = startUpstream("app");
  sockets = startSocketUpstream();
  const route = (path: string, options: Record<string, unknown>, pool = "app") => ({ match: { path: `/${path}/*` }, pool, plugins: [{ use: "jwt", options }] });
  gw = await startGateway({
    configDir: dir,
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { app: { servers: [{ url: up.url }] }, sockets: { servers: [{ url: sockets.url }] } },
      routes: [
        route("socket", { secret: SECRET, forwardClaims: { sub: "x-user-id" } }, "sockets"),
        route("hs", {
          secret: SECRET,
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ["HS256"],
          forwardClaims: { sub: "x-user-id", "realm_access.roles": "x-roles", name: "x-user-name" },
        }),
        route("pem", { publicKey: rsaPem, issuer: ISSUER }),
        route("mixed", { secret: OTHER_SECRET, publicKey: rsaPem }),
        route("es", { jwk: await exportJWK(ec.publicKey) }),
        route("ed", { publicKey: "keys/ed25519.pem" }),
        route("cookie", { secret: SECRET, from: "cookie:session" }),
        route("query", { secret: SECRET, from: ["header", "query:access_token"], forwardClaims: { sub: "x-user-id" } }),
        route("claims", { secret: SECRET, requiredClaims: ["tenant"], clockTolerance: "30s" }),
        route("rotate", { jwks: rotating.url, jwksCooldown: "300ms" }),
        route("guarded", { jwks: guarded.url, jwksCooldown: "1h" }),
        route("refresh", { jwks: refreshing.url, jwksRefresh: "200ms", jwksCooldown: "100ms" }),
        route("down", { jwks: `http://127.0.0.1:${dead}/jwks.json`, jwksTimeout: "1s" }),
        {
          match: { path: "/witness/*" },
          pool: "app",
          plugins: [{ use: "jwt", options: { secret: SECRET, forwardClaims: { sub: "x-user-id" } } }, { use: claimsWitness }],
        },
        { pool: "app" },
      ],
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
  sockets?.server.stop(true);
  for (const server of [rotating, guarded, refreshing]) await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}${path}`, { headers });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Asserts a 401 whose body and challenge say `reason`, and that the upstream was not asked. */
async function expectRefused(response: Response, reason: string, seenBefore: number): Promise<void> {
  expect(response.status).toBe(401);
  const body = (await response.json()) as { error: string; requestId: string };
  expect(body.error).toBe(reason);
  expect(body.requestId).toBe(response.headers.get("x-request-id")!);
  expect(response.headers.get("www-authenticate")).toBe(`Bearer error="invalid_token", error_description="${reason}"`);
  expect(up.seen.length).toBe(seenBefore);
}

describe("valid tokens", () => {
  test("HS256 with a secret: the request goes up with the claims as headers", async () => {
    const token = await sign("HS256", secretKey(SECRET), { sub: "alice", realm_access: { roles: ["admin", "ops"] }, name: "Zoë" });
    const res = await get("/hs/a", bearer(token));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("app");
    const seen = up.seen.at(-1)!;
    expect(seen.url).toBe("/hs/a");
    expect(seen.headers.get("x-user-id")).toBe("alice");
    expect(seen.headers.get("x-roles")).toBe("admin, ops");
    // Text outside ASCII goes up as its UTF-8 bytes (read back here as latin1, one character per byte).
    expect(Buffer.from(seen.headers.get("x-user-name")!, "latin1").toString("utf8")).toBe("Zoë");
    // The client's own Authorization header still goes up: the upstream may want the token.
    expect(seen.headers.get("authorization")).toBe(`Bearer ${token}`);
  });

  test("RS256 and PS256 with a PEM public key", async () => {
    expect((await get("/pem/x", bearer(await sign("RS256", rsa.rs256)))).status).toBe(200);
    expect((await get("/pem/x", bearer(await sign("PS256", rsa.ps256)))).status).toBe(200);
  });

  test("ES256 with a JWK, EdDSA with a PEM file relative to the config", async () => {
    expect((await get("/es/x", bearer(await sign("ES256", ec.privateKey)))).status).toBe(200);
    expect((await get("/ed/x", bearer(await sign("EdDSA", ed.privateKey)))).status).toBe(200);
  });

  test("the same token again is accepted again (from the verified-token cache)", async () => {
    const token = await sign("ES256", ec.privateKey, { sub: "repeat" });
    for (let i = 0; i < 3; i++) expect((await get("/es/x", bearer(token))).status).toBe(200);
  });

  test("a cached token stops being accepted when it expires", async () => {
    // exp is in whole seconds: now + 2 leaves at least one second of validity for the first request, whatever
    // fraction of the current second has passed (now + 1 could be over at once).
    const now = Math.floor(Date.now() / 1000);
    const token = await sign("HS256", secretKey(SECRET), { iat: now, exp: now + 2 });
    expect((await get("/hs/x", bearer(token))).status).toBe(200);
    await until(async () => (await get("/hs/x", bearer(token))).status === 401, "the expired token is refused");
  });

  test("token from a cookie, and from a query parameter when there is no header", async () => {
    const token = await sign("HS256", secretKey(SECRET), { sub: "carol" });
    expect((await get("/cookie/x", { cookie: `theme=dark; session=${token}` })).status).toBe(200);
    expect((await get("/cookie/x", bearer(token))).status).toBe(401); // this route reads only the cookie
    const res = await get(`/query/x?access_token=${token}&q=1`);
    expect(res.status).toBe(200);
    expect(up.seen.at(-1)!.headers.get("x-user-id")).toBe("carol");
  });
});

describe("the Authorization header", () => {
  test("the scheme in any case and several spaces are read; a credential with more than the token is malformed", async () => {
    const token = await sign("HS256", secretKey(SECRET), { sub: "eve" });
    for (const value of [`Bearer ${token}`, `bearer ${token}`, `BEARER  ${token}`]) {
      expect((await get("/hs/x", { authorization: value })).status).toBe(200);
    }
    const before = up.seen.length;
    for (const value of [`Bearer ${token} extra`, `Bearer ${token},${token}`, `Bearer ${token.replace(".", "!.")}`]) {
      await expectRefused(await get("/hs/x", { authorization: value }), "malformed token", before);
    }
    // Another scheme is no token at all: the bare challenge.
    const basic = await get("/hs/x", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` });
    expect(basic.status).toBe(401);
    expect(basic.headers.get("www-authenticate")).toBe("Bearer");
  });
});

describe("refused tokens", () => {
  test("no token: 401 with the bare challenge and a JSON body; the upstream is not asked", async () => {
    const before = up.seen.length;
    const res = await get("/hs/x");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    const body = (await res.json()) as { error: string; requestId: string };
    expect(body).toEqual({ error: "bearer token required", requestId: res.headers.get("x-request-id")! });
    expect(up.seen.length).toBe(before);
  });

  test("expired, not yet valid, wrong issuer, wrong audience, missing required claim", async () => {
    const key = secretKey(SECRET);
    const now = Math.floor(Date.now() / 1000);
    const before = up.seen.length;
    await expectRefused(await get("/hs/x", bearer(await sign("HS256", key, { iat: now - 600, exp: now - 60 }))), "token expired", before);
    await expectRefused(await get("/hs/x", bearer(await sign("HS256", key, { nbf: now + 600 }))), "token not yet valid", before);
    await expectRefused(await get("/hs/x", bearer(await sign("HS256", key, { iss: "https://evil.test" }))), "token issuer not accepted", before);
    await expectRefused(await get("/hs/x", bearer(await sign("HS256", key, { aud: "someone-else" }))), "token audience not accepted", before);
    await expectRefused(await get("/claims/x", bearer(await sign("HS256", key))), "token lacks the tenant claim", before);
  });

  test("clockTolerance accepts a token that expired moments ago", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign("HS256", secretKey(SECRET), { tenant: "t1", iat: now - 60, exp: now - 5 });
    expect((await get("/claims/x", bearer(token))).status).toBe(200);
  });

  test("alg none is never accepted, signed or not", async () => {
    const before = up.seen.length;
    const payload = b64url(JSON.stringify({ sub: "mallory", iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 }));
    for (const alg of ["none", "None", "NONE"]) {
      const header = b64url(JSON.stringify({ alg, typ: "JWT" }));
      await expectRefused(await get("/hs/x", bearer(`${header}.${payload}.`)), "malformed token", before);
      await expectRefused(await get("/hs/x", bearer(`${header}.${payload}.c2ln`)), "token algorithm not accepted", before);
    }
  });

  test("algorithm confusion: an HS256 token signed with the RSA public key's PEM as the secret", async () => {
    const before = up.seen.length;
    const forged = await sign("HS256", secretKey(rsaPem));
    // A route with only the public key does not take HS256 at all…
    await expectRefused(await get("/pem/x", bearer(forged)), "token algorithm not accepted", before);
    // …and one that also has a secret checks HS256 against that secret only, never against the public key.
    await expectRefused(await get("/mixed/x", bearer(forged)), "token signature invalid", before);
    expect((await get("/mixed/x", bearer(await sign("HS256", secretKey(OTHER_SECRET))))).status).toBe(200);
    expect((await get("/mixed/x", bearer(await sign("RS256", rsa.rs256)))).status).toBe(200);
  });

  test("an RS256 token where only HS256 is allowed; an EdDSA token where only RSA keys are", async () => {
    const before = up.seen.length;
    await expectRefused(await get("/hs/x", bearer(await sign("RS256", rsa.rs256))), "token algorithm not accepted", before);
    await expectRefused(await get("/pem/x", bearer(await sign("EdDSA", ed.privateKey))), "token algorithm not accepted", before);
  });

  test("a tampered payload, a signature by another key, garbage", async () => {
    const before = up.seen.length;
    const token = await sign("HS256", secretKey(SECRET), { sub: "bob" });
    const [h, , s] = token.split(".");
    const tampered = `${h}.${b64url(JSON.stringify({ sub: "admin", iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 }))}.${s}`;
    await expectRefused(await get("/hs/x", bearer(tampered)), "token signature invalid", before);
    await expectRefused(await get("/pem/x", bearer(await sign("RS256", k1.privateKey))), "token signature invalid", before);
    await expectRefused(await get("/hs/x", bearer("not-a-token")), "malformed token", before);
    await expectRefused(await get("/hs/x", { authorization: "Bearer" }), "malformed token", before);
  });
});

describe("forwarded claim headers", () => {
  test("a client-sent copy never reaches the upstream: replaced, or removed when the token lacks the claim", async () => {
    const key = secretKey(SECRET);
    await get("/hs/x", { ...bearer(await sign("HS256", key, { sub: "alice" })), "x-user-id": "root", "X-Roles": "admin" });
    let seen = up.seen.at(-1)!;
    expect(seen.headers.get("x-user-id")).toBe("alice");
    expect(seen.headers.has("x-roles")).toBe(false);

    await get("/hs/x", { ...bearer(await sign("HS256", key, { sub: undefined })), "x-user-id": "root" });
    seen = up.seen.at(-1)!;
    expect(seen.headers.has("x-user-id")).toBe(false);
  });

  test("without a token the request (and its forged header) is refused before the upstream", async () => {
    const before = up.seen.length;
    expect((await get("/hs/x", { "x-user-id": "root" })).status).toBe(401);
    expect((await get("/query/x?access_token=", { "x-user-id": "root" })).status).toBe(401);
    expect(up.seen.length).toBe(before);
  });

  test("a WebSocket upgrade with a token goes through, its handshake carrying the claim header", async () => {
    const token = await sign("HS256", secretKey(SECRET), { sub: "socket-user" });
    expect(await socketExchange("/socket/chat", { ...bearer(token), "x-user-id": "root" })).toEqual({ echo: "echo hi" });
    expect(sockets.handshakes.at(-1)!.get("x-user-id")).toBe("socket-user");
    const before = sockets.handshakes.length;
    expect((await socketExchange("/socket/chat", { "x-user-id": "root" })).failed).toBeDefined();
    expect(sockets.handshakes.length).toBe(before);
  });

  test("a WebSocket upgrade without a token is refused too", async () => {
    const before = up.seen.length;
    const res = await rawRequest(Number(new URL(gw.url).port), [
      "GET /hs/socket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-User-Id: root\r\n\r\n",
    ]);
    expect(res.status).toBe(401);
    expect(up.seen.length).toBe(before);
  });
});

describe("JWKS", () => {
  test("keys come from the set; a new kid is picked up with one fetch after the cooldown", async () => {
    await until(() => rotating.hits === 1, "the key set is fetched at setup");
    expect((await get("/rotate/x", bearer(await sign("RS256", k1.privateKey, {}, { kid: "k1" })))).status).toBe(200);

    rotating.keys = [await publicJwk(k1, "k1", "RS256"), await publicJwk(k2, "k2", "ES256")];
    const rotated = await sign("ES256", k2.privateKey, {}, { kid: "k2" });
    // Refused until the cooldown since the first fetch has passed; then one fetch finds k2.
    await until(async () => (await get("/rotate/x", bearer(rotated))).status === 200, "the rotated key is picked up");
    expect(rotating.hits).toBe(2);

    // A burst of made-up kids right after costs at most one more fetch (the cooldown holds the rest back).
    const before = rotating.hits;
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => sign("RS256", k3.privateKey, {}, { kid: `made-up-${i}` })));
    const answers = await Promise.all(made.map((t) => get("/rotate/x", bearer(t))));
    for (const res of answers) expect(res.status).toBe(401);
    expect(rotating.hits - before).toBeLessThanOrEqual(1);
    expect(((await answers[0]!.json()) as { error: string }).error).toBe("no key matches the token");
  });

  test("unknown kids within the cooldown never fetch the set again", async () => {
    await until(() => guarded.hits === 1, "the key set is fetched at setup");
    for (let i = 0; i < 10; i++) {
      const res = await get("/guarded/x", bearer(await sign("RS256", k3.privateKey, {}, { kid: `unknown-${i}` })));
      expect(res.status).toBe(401);
    }
    expect(guarded.hits).toBe(1);
    expect((await get("/guarded/x", bearer(await sign("RS256", k1.privateKey, {}, { kid: "k1" })))).status).toBe(200);
  });

  test("the set is refreshed in the background: a key removed from it stops verifying", async () => {
    const token = await sign("RS256", k1.privateKey, {}, { kid: "k1" });
    await until(async () => (await get("/refresh/x", bearer(token))).status === 200, "k1 verifies");
    refreshing.keys = [await publicJwk(k3, "k3", "RS256")];
    const before = refreshing.hits;
    // Requests keep being answered from the keys in hand while the refresh runs; then k1 is gone, k3 works.
    await until(async () => (await get("/refresh/x", bearer(token))).status === 401, "the removed key stops verifying");
    expect(refreshing.hits).toBeGreaterThan(before);
    expect((await get("/refresh/x", bearer(await sign("RS256", k3.privateKey, {}, { kid: "k3" })))).status).toBe(200);
  });

  test("a JWKS server that is down did not block start-up; its route answers 503 and nothing goes up", async () => {
    const before = up.seen.length;
    const res = await get("/down/x", bearer(await sign("RS256", k1.privateKey, {}, { kid: "k1" })));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toBe("authentication keys unavailable");
    expect(up.seen.length).toBe(before);
  });
});

describe("the byte path", () => {
  test("a jwt route makes no Request object: tokens checked, cached, refused; claims go up and reach later hooks", async () => {
    const token = await sign("HS256", secretKey(SECRET), { sub: "dora" });
    const before = up.seen.length;
    const made = await requestObjectsMade(async () => {
      for (let i = 0; i < 2; i++) {
        // the signature check, then the verified-token cache
        const res = await get("/witness/x", { ...bearer(token), "x-user-id": "root" });
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("app");
        const seen = up.seen.at(-1)!;
        expect(seen.headers.get("x-user-id")).toBe("dora");
        expect(seen.headers.get("x-witness-sub")).toBe("dora");
      }
      const refused = await get("/witness/x", bearer(`${token}x`));
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: string }).error).toBe("token signature invalid");
      expect((await get("/witness/x")).status).toBe(401);
    });
    expect(made).toBe(0);
    expect(up.seen.length).toBe(before + 2);
  });
});

describe("options", () => {
  test("sluice check prints one line per problem of each jwt plugin", async () => {
    const pem = rsaPem.replace(/\n/g, "\\n");
    const config = JSON.parse(`{
      "pools": { "app": { "servers": [{ "url": "http://127.0.0.1:9" }] } },
      "routes": [
        { "pool": "app", "plugins": [{ "use": "jwt", "options": { "secret": "short", "algorithms": ["none", "RS256"] } }] },
        { "pool": "app", "plugins": [{ "use": "jwt", "options": { "jwks": "http://keys.example.com/jwks.json", "from": "body" } }] },
        { "pool": "app", "plugins": [{ "use": "jwt", "options": { "publicKey": "${pem}", "algorithms": ["ES256"], "forwardClaims": { "sub": "host", "email": "Expect" } } }] },
        { "pool": "app", "plugins": [{ "use": "jwt", "options": {} }] },
        { "pool": "app", "plugins": [{ "use": "jwt", "options": { "secret": "${pem}" } }] },
        { "pool": "app", "plugins": [{ "use": "jwt", "options": { "secret": "${SECRET}", "clockTolerance": "soon" } }] }
      ]
    }`);
    const path = join(dir, "bad-jwt.json");
    await writeFile(path, JSON.stringify(config));
    const { code, out } = await runCli(["check", "--config", path]);
    expect(code).toBe(1);
    expect(out.trim().split("\n")).toEqual([
      'routes[0].plugins[0].options.algorithms[0]: "none" is never accepted: a token must be signed (got "none")',
      'routes[0].plugins[0].options.secret: too short: an HMAC secret needs at least 32 bytes (256 bits); this one has 5 (got "short")',
      'routes[0].plugins[0].options.algorithms: RS256 needs publicKey, jwk or jwks (got ["none","RS256"])',
      'routes[1].plugins[0].options.from: not a token source: use "header", "header:NAME", "cookie:NAME" or "query:NAME" (got "body")',
      expect.stringMatching(/^routes\[1\]\.plugins\[0\]\.options\.jwks: use https:\/\/ .* \(got "http:\/\/keys\.example\.com\/jwks\.json"\)$/),
      expect.stringMatching(/^routes\[2\]\.plugins\[0\]\.options\.forwardClaims\.sub: a header the gateway .* \(got "host"\)$/),
      expect.stringMatching(/^routes\[2\]\.plugins\[0\]\.options\.forwardClaims\.email: a header the gateway .* \(got "Expect"\)$/),
      'routes[2].plugins[0].options.algorithms[0]: the public key given does not verify ES256 (it verifies RS256, RS384, RS512, PS256, PS384, PS512) (got "ES256")',
      "routes[3].plugins[0].options: no key: give secret (HS256…), publicKey, jwk or jwks (got {})",
      expect.stringMatching(/^routes\[4\]\.plugins\[0\]\.options\.secret: a PEM key is not an HMAC secret: give it as publicKey \(got "-----BEGIN PUBLIC KEY/),
      expect.stringMatching(/^routes\[5\]\.plugins\[0\]\.options\.clockTolerance: not a duration.* \(got "soon"\)$/),
    ]);
  });
});
