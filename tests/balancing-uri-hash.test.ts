import { expect, test } from "bun:test";
import { uriHash } from "../gateway/balancing/uri-hash.ts";
import { create, runSelectorCases, servers, T0 } from "./balancing.case.ts";

runSelectorCases("uri-hash", uriHash, { spread: "even", weights: "proportional", tolerance: 0.02, slowStart: true, keyed: true });

test("uri-hash: keys on path and query: stable per URI, whoever asks, spread over many", () => {
  const list = servers(6);
  const selector = create(uriHash, list, { hash: "header:x-user" });
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const uri = `/products/${i}?color=red`;
    const chosen = selector.pick(list, () => true, { now: T0, clientIp: "192.0.2.1", hashKey: "a", uri })!;
    seen.add(chosen.id);
    expect(selector.pick(list, () => true, { now: T0 + 9, clientIp: `198.51.100.${i % 256}`, hashKey: `b${i}`, uri })).toBe(chosen);
  }
  expect(seen.size).toBe(6);
  // The query is part of the key (nginx's $request_uri).
  const variants = new Set(Array.from({ length: 40 }, (_, i) => selector.pick(list, () => true, { now: T0, clientIp: "x", uri: `/p?page=${i}` })!.id));
  expect(variants.size).toBeGreaterThan(1);
});

test("uri-hash: asks the pool for the URI (needsHashKey), and without one (a TCP pool) keys on the client", () => {
  const list = servers(6);
  const selector = create(uriHash, list);
  expect(selector.needsHashKey).toBe(true);
  const ips = new Set(Array.from({ length: 100 }, (_, i) => selector.pick(list, () => true, { now: T0, clientIp: `10.0.0.${i}` })!.id));
  expect(ips.size).toBe(6);
});
