// The `hash` keys of consistent-hash pools end to end: requests through the gateway to four upstreams that
// say who they are. For each key, what is part of it keeps a request on its server whatever else changes,
// and different keys spread over the servers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gateway, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

const KEYS = ["uri", "path", "cookie:sid", "query:user"] as const;

const poolName = (key: string) => key.replace(":", "-");

let ups: Upstream[];
let gw: Gateway;

beforeAll(async () => {
  ups = ["a", "b", "c", "d"].map((name) => startUpstream(name));
  const servers = ups.map((u) => ({ url: u.url, id: u.name }));
  gw = await gateway({
    // One pool per key, chosen by the x-key header.
    pools: Object.fromEntries(KEYS.map((key) => [poolName(key), { balance: "consistent-hash", hash: key, servers }])),
    routes: KEYS.map((key) => ({ match: { headers: { "x-key": key } }, pool: poolName(key) })),
  });
});

afterAll(async () => {
  await gw.stop(0);
  await Promise.all(ups.map((u) => u.stop()));
});

/** Which upstream answers `target` in the pool keyed on `key`. */
async function who(key: (typeof KEYS)[number], target: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(gw.url + target, { headers: { ...headers, "x-key": key } });
  expect(response.status).toBe(200);
  return await response.text();
}

/** For each of `count` keys, the servers its variants went to: each must be one server. */
async function expectStable(variants: (i: number) => Array<() => Promise<string>>, count = 40): Promise<string[]> {
  const chosen: string[] = [];
  for (let i = 0; i < count; i++) {
    const answers = [];
    for (const send of variants(i)) answers.push(await send());
    expect(new Set(answers).size).toBe(1);
    chosen.push(answers[0]!);
  }
  return chosen;
}

/** Different keys spread: 40 of them over four servers reach at least three. */
function expectSpread(chosen: string[]): void {
  expect(new Set(chosen).size).toBeGreaterThanOrEqual(3);
}

describe("hash keys through the gateway", () => {
  test("uri: path and query are the key; the same URI keeps its server, another query string is another key", async () => {
    const chosen = await expectStable((i) => [
      () => who("uri", `/item/${i}?v=1`),
      () => who("uri", `/item/${i}?v=1`, { cookie: `sid=${i}`, "user-agent": `agent ${i}` }),
    ]);
    expectSpread(chosen);
    // One path, forty query strings: the query is part of the key, so they spread too.
    const byQuery = [];
    for (let i = 0; i < 40; i++) byQuery.push(await who("uri", `/same?v=${i}`));
    expectSpread(byQuery);
  });

  test("path: the path alone is the key, never its query string", async () => {
    const chosen = await expectStable((i) => [
      () => who("path", `/item/${i}`),
      () => who("path", `/item/${i}?v=1`),
      () => who("path", `/item/${i}?v=2&other=${i}`),
      () => who("path", `/item/${i}?`),
    ]);
    expectSpread(chosen);
  });

  test("cookie:NAME: that cookie's value is the key, whatever the path and the other cookies", async () => {
    const chosen = await expectStable((i) => [
      () => who("cookie:sid", "/a", { cookie: `sid=user-${i}` }),
      () => who("cookie:sid", `/b/${i}?x=${i}`, { cookie: `theme=dark; sid=user-${i}` }),
      () => who("cookie:sid", "/c", { cookie: `sid=user-${i}; lang=l${i}; sidx=other` }),
    ]);
    expectSpread(chosen);
    // Without the cookie the key is empty: the same server as an empty value, whatever else is sent.
    await expectStable(
      () => [() => who("cookie:sid", "/a"), () => who("cookie:sid", "/b", { cookie: "sid=" }), () => who("cookie:sid", "/c", { cookie: "theme=dark; xsid=1" })],
      1,
    );
  });

  test("query:NAME: that parameter's (first) value is the key, whatever the path and the other parameters", async () => {
    const chosen = await expectStable((i) => [
      () => who("query:user", `/a?user=u${i}`),
      () => who("query:user", `/b/${i}?a=${i}&user=u${i}`),
      () => who("query:user", `/c?user=u${i}&user=other&users=x${i}`, { cookie: `sid=${i}` }),
    ]);
    expectSpread(chosen);
    // Without the parameter the key is empty: the same server as an empty value.
    await expectStable(() => [() => who("query:user", "/a"), () => who("query:user", "/b?user="), () => who("query:user", "/c?username=x&a=1")], 1);
  });
});
