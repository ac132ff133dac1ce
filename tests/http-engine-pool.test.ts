// The upstream connection pool: the gateway-level suite (http-engine-pool.case.ts) on Bun, and the pool's own
// expiry and caps with small options (an UpstreamPool of its own driven through pooledFetch against a real
// upstream): maxRequests per connection, the idle timeout, maxIdle per server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { until } from "./helpers/common.ts";
import { answerWith, wireUpstream, type WireUpstream } from "./helpers/wire.ts";
import { getRuntime } from "../gateway/runtime/current.ts";
import { UpstreamPool } from "../gateway/http/upstream-pool.ts";
import { pooledFetch, type PooledRequest } from "../gateway/http/pooled-fetch.ts";
import { poolCases } from "./http-engine-pool.case.ts";

poolCases("bun");

describe("expiry and caps (the pool itself, with small options)", () => {
  let pool: UpstreamPool;
  let up: WireUpstream;
  /** Requests held until `release` is called (to make them concurrent). */
  let held: Array<() => void> = [];
  beforeAll(async () => {
    up = await wireUpstream((request, socket) => {
      const answer = () => socket.write(answerWith(200, `${request.connection.id}/${request.index}`));
      if (request.target === "/hold") held.push(answer);
      else answer();
    });
    pool = new UpstreamPool(await getRuntime(), { maxIdle: 2, idleTimeout: 300, maxRequests: 3 });
  });
  afterAll(async () => {
    pool.closeIdle();
    await up.close();
  });

  const address = () => ({ id: "s1", hostname: "127.0.0.1", port: up.port, hostPort: `127.0.0.1:${up.port}` });
  const request = (path: string): PooledRequest => ({
    method: "GET",
    pathAndQuery: path,
    headers: new Headers({ host: "pool.test" }),
    body: null,
    signal: new AbortController().signal,
    connectTimeout: 1_000,
  });
  const fetchText = async (path: string) => (await pooledFetch(pool, address(), request(path))).text();

  test("maxRequests: a connection carries 3 requests, then is closed and a new one is opened", async () => {
    const answers: string[] = [];
    for (let i = 0; i < 7; i++) answers.push(await fetchText("/n"));
    expect(answers).toEqual(["1/1", "1/2", "1/3", "2/1", "2/2", "2/3", "3/1"]);
    await until(() => up.connections[0]!.closed && up.connections[1]!.closed, "connections retired after 3 requests");
    expect(up.connections[2]!.closed).toBe(false);
    expect(pool.idleCount(address())).toBe(1);
  });

  test("idleTimeout: an idle connection is closed once it has sat idle that long, and the next request opens another", async () => {
    const before = up.accepted;
    const idleSince = Date.now();
    await until(() => up.connections.every((c) => c.closed), "idle connection closed", 3_000);
    // Not before the timeout (300 ms); the sweep runs once a second, so within about 1.3 s.
    expect(Date.now() - idleSince).toBeGreaterThanOrEqual(250);
    expect(pool.idleCount(address())).toBe(0);
    expect(await fetchText("/n")).toBe(`${before + 1}/1`);
    expect(up.accepted).toBe(before + 1);
  });

  test("maxIdle: of 5 connections busy at once, 2 stay idle afterwards and 3 are closed", async () => {
    pool.closeIdle();
    await until(() => up.connections.every((c) => c.closed), "earlier connections closed");
    const before = up.accepted;
    held = [];
    const answers = [1, 2, 3, 4, 5].map(() => fetchText("/hold"));
    await until(() => held.length === 5, "five requests held at the upstream");
    expect(up.accepted - before).toBe(5);
    for (const answer of held) answer();
    expect((await Promise.all(answers)).length).toBe(5);
    expect(pool.idleCount(address())).toBe(2);
    await until(() => up.connections.slice(before).filter((c) => c.closed).length === 3, "three connections over maxIdle closed");
    // The two kept are reused: no new connection for two sequential requests.
    await fetchText("/n");
    await fetchText("/n");
    expect(up.accepted - before).toBe(5);
  });
});
