import { expect, test } from "bun:test";
import { balancerNames, balancingAlgorithms, canonicalBalancer, createSelector } from "../gateway/balancing/registry.ts";
import { validateConfig } from "../gateway/gateway.ts";
import { Pool } from "../gateway/pool/pool.ts";
import { RequestView } from "../gateway/routing/view.ts";
import { servers, T0 } from "./balancing.case.ts";

test("registry: the contract's algorithms", () => {
  expect(balancingAlgorithms).toEqual([
    "round-robin",
    "random",
    "least-conn",
    "response-time",
    "capacity",
    "first",
    "ip-hash",
    "uri-hash",
    "consistent-hash",
    "p2c",
  ]);
});

test("registry: the names HAProxy and nginx users type are accepted, and mean the same algorithm", () => {
  const expected: Record<string, string> = {
    roundrobin: "round-robin",
    rr: "round-robin",
    wrr: "round-robin",
    rand: "random",
    leastconn: "least-conn",
    least_conn: "least-conn",
    "least-connections": "least-conn",
    "least-time": "response-time",
    least_time: "response-time",
    ewma: "response-time",
    "peak-ewma": "response-time",
    source: "ip-hash",
    ip_hash: "ip-hash",
    uri: "uri-hash",
    ketama: "consistent-hash",
    chash: "consistent-hash",
    "power-of-two": "p2c",
    "p2c-leastconn": "p2c",
  };
  for (const [alias, name] of Object.entries(expected)) {
    expect(balancerNames).toContain(alias);
    expect(canonicalBalancer(alias)).toBe(name);
  }
  expect(balancerNames.length).toBe(balancingAlgorithms.length + Object.keys(expected).length);
});

test("registry: every name builds a working selector; unknown names are refused", () => {
  const list = servers(3);
  for (const name of balancerNames) {
    const selector = createSelector(name, { hash: "ip", servers: list });
    expect(list).toContain(selector.pick(list, () => true, { now: T0, clientIp: "192.0.2.1", hashKey: "k", uri: "/" })!);
  }
  expect(canonicalBalancer("toString")).toBeUndefined();
  expect(() => createSelector("round-robbin", { hash: "ip", servers: list })).toThrow('unknown balancing algorithm "round-robbin"');
});

test("names are canonical once the config is loaded: an alias becomes the algorithm's name, a header key lower case", () => {
  const config = validateConfig({
    pools: {
      web: { balance: "ketama", hash: "header:X-User", servers: [{ url: "http://127.0.0.1:9001" }] },
      jar: { balance: "chash", hash: "cookie:Session", servers: [{ url: "http://127.0.0.1:9001" }] },
      db: { mode: "tcp", balance: "leastconn", servers: [{ address: "127.0.0.1:5432" }] },
    },
    routes: [{ pool: "web" }],
  });
  expect(config.pools.web).toMatchObject({ balance: "consistent-hash", hash: "header:x-user" });
  expect(config.pools.jar).toMatchObject({ balance: "consistent-hash", hash: "cookie:Session" }); // cookie names keep their case
  expect(config.pools.db).toMatchObject({ balance: "least-conn", hash: "ip" });
  // The pool keys on the header whatever case the config wrote it in: the request's fields are looked up in lower case.
  const web = new Pool("web", config.pools.web!);
  expect(web.balance).toBe("consistent-hash");
  const view = RequestView.fromUrl("GET", "/", { get: (name) => (name === "x-user" ? "alice" : null) });
  expect(web.selectionFor({ clientIp: "192.0.2.1", view }).hashKey).toBe("alice");
});
