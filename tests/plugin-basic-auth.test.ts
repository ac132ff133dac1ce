// The basic-auth plugin end to end: bcrypt hashes from `users` and an htpasswd-style `usersFile`, right and wrong
// passwords, unknown users (checked against a dummy hash all the same), malformed credentials, the verification
// cache (counted in bcrypt calls, not timed), the user passed upstream, the route kept on the engine's byte path (no
// Request object), and the option errors `sluice check` prints.
import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { startGateway } from "../gateway/gateway.ts";
import { runCli } from "./helpers/process.ts";
import { requestObjectsMade } from "./helpers/request-objects.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

// A low cost keeps the suite fast; the plugin treats every cost alike.
const COST = 6;

let dir: string;
let up: Upstream;
let gw: Gateway;
let compare: ReturnType<typeof spyOn<typeof bcrypt, "compare">>;
let aliceHash: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-basic-"));
  aliceHash = bcrypt.hashSync("wonderland", COST);
  const users = { alice: aliceHash, bob: bcrypt.hashSync("builder", COST), zoë: bcrypt.hashSync("pässwörd", COST) };
  // htpasswd -B writes $2y$ hashes: the same algorithm under another name.
  await writeFile(
    join(dir, "staff.htpasswd"),
    ["# staff of the back office", "", `dave:${bcrypt.hashSync("d4ve", COST).replace(/^\$2b\$/, "$2y$")}`, `erin:${bcrypt.hashSync("3rin", COST)}`].join("\n"),
  );
  up = startUpstream("app");
  const route = (path: string, options: Record<string, unknown>) => ({ match: { path: `/${path}/*` }, pool: "app", plugins: [{ use: "basic-auth", options }] });
  gw = await startGateway({
    configDir: dir,
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { app: { servers: [{ url: up.url }] } },
      routes: [
        route("basic", { users, realm: "staff" }),
        route("file", { usersFile: "staff.htpasswd" }),
        route("named", { users, userHeader: "x-auth-user", removeHeader: true }),
        route("uncached", { users, cacheTtl: "0s" }),
        { pool: "app" },
      ],
    },
  });
  compare = spyOn(bcrypt, "compare");
});

afterEach(() => compare.mockClear());

afterAll(async () => {
  compare?.mockRestore();
  await gw?.stop();
  await up?.stop();
  await rm(dir, { recursive: true, force: true });
});

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}${path}`, { headers });
}

async function expectRefused(res: Response, error: string, challenge = 'Basic realm="staff", charset="UTF-8"'): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toBe(challenge);
  expect(await res.json()).toEqual({ error, requestId: res.headers.get("x-request-id")! });
}

describe("checking passwords", () => {
  test("the right password passes; the credentials go up as they came", async () => {
    const res = await get("/basic/x", basic("alice", "wonderland"));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("app");
    expect(up.seen.at(-1)!.headers.get("authorization")).toBe(basic("alice", "wonderland").authorization);
  });

  test("a wrong password and an unknown user get the same 401, and each costs one bcrypt check", async () => {
    const before = up.seen.length;
    await expectRefused(await get("/basic/x", basic("alice", "wrong")), "invalid credentials");
    expect(compare).toHaveBeenCalledTimes(1);
    await expectRefused(await get("/basic/x", basic("mallory", "wonderland")), "invalid credentials");
    // The unknown user was checked against a dummy hash, not skipped: the answer takes as long.
    expect(compare).toHaveBeenCalledTimes(2);
    expect(compare.mock.calls[1]![1]).not.toBe(aliceHash);
    expect(up.seen.length).toBe(before);
  });

  test("no credentials, or another scheme: 401 asking for them", async () => {
    await expectRefused(await get("/basic/x"), "authentication required");
    await expectRefused(await get("/basic/x", { authorization: "Bearer abc.def.ghi" }), "authentication required");
    expect(compare).not.toHaveBeenCalled();
  });

  test("malformed credentials are refused without a check", async () => {
    const before = up.seen.length;
    const malformed = [
      "Basic",
      "Basic !!!!",
      "Basic YWxpY2U=", // "alice": no colon
      `Basic ${Buffer.from(":wonderland").toString("base64")}`, // empty user
      `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString("base64")}`, // not UTF-8
      `Basic ${Buffer.from("alice:wonder\nland").toString("base64")}`, // a control character
      `Basic ${Buffer.from("alice:wonderland").toString("base64").replace(/=+$/, "")}x`, // bad length
    ];
    for (const authorization of malformed) await expectRefused(await get("/basic/x", { authorization }), "invalid credentials");
    expect(compare).not.toHaveBeenCalled();
    expect(up.seen.length).toBe(before);
  });

  test("user names and passwords are UTF-8", async () => {
    expect((await get("/basic/x", basic("zoë", "pässwörd"))).status).toBe(200);
  });

  test("users from an htpasswd-style file, $2y$ hashes included", async () => {
    expect((await get("/file/x", basic("dave", "d4ve"))).status).toBe(200);
    expect((await get("/file/x", basic("erin", "3rin"))).status).toBe(200);
    await expectRefused(await get("/file/x", basic("alice", "wonderland")), "invalid credentials", 'Basic realm="restricted", charset="UTF-8"');
  });
});

describe("the verification cache", () => {
  test("a pair that passed is not checked again; wrong passwords always are", async () => {
    for (let i = 0; i < 5; i++) expect((await get("/basic/x", basic("bob", "builder"))).status).toBe(200);
    expect(compare.mock.calls.length).toBeLessThanOrEqual(1); // 0 if an earlier test already remembered bob
    compare.mockClear();
    for (let i = 0; i < 3; i++) expect((await get("/basic/x", basic("bob", "wrong"))).status).toBe(401);
    expect(compare).toHaveBeenCalledTimes(3);
  });

  test("requests with the same new pair at once share one check", async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => get("/named/x", basic("bob", "builder"))));
    for (const res of answers) expect(res.status).toBe(200);
    expect(compare).toHaveBeenCalledTimes(1);
  });

  test('cacheTtl "0s" checks every request', async () => {
    for (let i = 0; i < 3; i++) expect((await get("/uncached/x", basic("alice", "wonderland"))).status).toBe(200);
    expect(compare).toHaveBeenCalledTimes(3);
  });
});

describe("telling the upstream", () => {
  test("userHeader carries the user (a client's copy is replaced); removeHeader keeps the credentials at the gateway", async () => {
    expect((await get("/named/x", { ...basic("alice", "wonderland"), "X-Auth-User": "root" })).status).toBe(200);
    const seen = up.seen.at(-1)!;
    expect(seen.headers.get("x-auth-user")).toBe("alice");
    expect(seen.headers.has("authorization")).toBe(false);
  });

  test("a client's copy of the user header never gets through without credentials", async () => {
    const before = up.seen.length;
    expect((await get("/named/x", { "x-auth-user": "root" })).status).toBe(401);
    expect(up.seen.length).toBe(before);
  });
});

describe("the byte path", () => {
  test("a basic-auth route makes no Request object: a bcrypt check, a remembered pass, refusals", async () => {
    const made = await requestObjectsMade(async () => {
      for (let i = 0; i < 2; i++) {
        const res = await get("/named/x", { ...basic("zoë", "pässwörd"), "x-auth-user": "root" });
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("app");
        const seen = up.seen.at(-1)!;
        expect(Buffer.from(seen.headers.get("x-auth-user")!, "latin1").toString("utf8")).toBe("zoë");
        expect(seen.headers.has("authorization")).toBe(false);
      }
      expect(compare).toHaveBeenCalledTimes(1); // the second request was a remembered pass
      await expectRefused(await get("/named/x", basic("zoë", "wrong")), "invalid credentials", 'Basic realm="restricted", charset="UTF-8"');
      await expectRefused(await get("/named/x"), "authentication required", 'Basic realm="restricted", charset="UTF-8"');
    });
    expect(made).toBe(0);
  });
});

describe("options", () => {
  test("sluice check prints one line per problem", async () => {
    await writeFile(join(dir, "bad.htpasswd"), `ok:${aliceHash}\nplain:secret\nsha:{SHA}x\nmd5:$apr1$abc$def\n`);
    const path = join(dir, "bad-basic.json");
    await writeFile(
      path,
      JSON.stringify({
        pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } },
        routes: [
          { pool: "app", plugins: [{ use: "basic-auth", options: { users: { alice: "wonderland", "b:ob": aliceHash }, realm: 'say "hi"' } }] },
          { pool: "app", plugins: [{ use: "basic-auth", options: {} }] },
          { pool: "app", plugins: [{ use: "basic-auth", options: { usersFile: "missing.htpasswd" } }] },
          { pool: "app", plugins: [{ use: "basic-auth", options: { usersFile: "bad.htpasswd" } }] },
          {
            pool: "app",
            plugins: [{ use: "basic-auth", options: { users: { eve: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA" }, userHeader: "authorization" } }],
          },
        ],
      }),
    );
    const { code, out } = await runCli(["check", "--config", path]);
    expect(code).toBe(1);
    expect(out.trim().split("\n")).toEqual([
      'routes[0].plugins[0].options.users.alice: not a bcrypt hash (store hashes, never passwords): make bcrypt hashes with htpasswd -nbB USER PASSWORD (got "wonderland")',
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.realm: printable ASCII without quotes or backslashes/),
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.users\.b:ob: a user name may hold no colon or control character \(got "\$2b\$06\$/),
      "routes[1].plugins[0].options.users: no users: give users (name → bcrypt hash) or usersFile (got nothing)",
      expect.stringMatching(/^routes\[2\]\.plugins\[0\]: plugin setup failed: options\.usersFile: cannot read .*missing\.htpasswd \(ENOENT\)/),
      "routes[3].plugins[0]: plugin setup failed: options.usersFile: bad.htpasswd: line 2: not a bcrypt hash (store hashes, never passwords); " +
        "line 3: MD5, SHA and crypt hashes are refused (too fast to guess against), only bcrypt; " +
        "line 4: MD5, SHA and crypt hashes are refused (too fast to guess against), only bcrypt " +
        '(make bcrypt hashes with htpasswd -nbB USER PASSWORD) (got "basic-auth")',
      expect.stringMatching(/^routes\[4\]\.plugins\[0\]\.options\.users\.eve: argon2 hashes are not supported, only bcrypt/),
      expect.stringMatching(/^routes\[4\]\.plugins\[0\]\.options\.userHeader: a header the gateway or the client's credentials own/),
    ]);
  });
});
