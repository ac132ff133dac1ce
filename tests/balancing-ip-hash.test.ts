import { expect, test } from "bun:test";
import { ipHash } from "../gateway/balancing/ip-hash.ts";
import type { UpstreamServer } from "../gateway/pool/server.ts";
import { create, inputFor, runSelectorCases, servers, T0 } from "./balancing.case.ts";

runSelectorCases("ip-hash", ipHash, { spread: "even", weights: "proportional", tolerance: 0.02, slowStart: true, keyed: true });

const at = (clientIp: string, now = T0) => ({ now, clientIp, hashKey: "ignored", uri: "/ignored" });

test("ip-hash: keys on the client address only, whatever `hash`, hashKey or the URI say", () => {
  const list = servers(8);
  const byHeader = create(ipHash, list, { hash: "header:x-user" });
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const ip = `192.0.2.${i}`;
    const chosen = byHeader.pick(list, () => true, at(ip))!;
    seen.add(chosen.id);
    expect(byHeader.pick(list, () => true, { now: T0, clientIp: ip, hashKey: `k${i}`, uri: `/u/${i}` })).toBe(chosen);
    expect(create(ipHash, list).pick(list, () => true, at(ip))).toBe(chosen); // another gateway agrees
  }
  expect(seen.size).toBe(8);
  expect(ipHash({ hash: "uri", servers: list }).needsHashKey).toBe(false);
});

test("ip-hash: an IPv4 address seen through a dual-stack socket (::ffff:a.b.c.d) keeps its server", () => {
  const list = servers(8);
  const selector = create(ipHash, list);
  for (let i = 0; i < 50; i++)
    expect(selector.pick(list, () => true, at(`::ffff:198.51.100.${i}`))).toBe(selector.pick(list, () => true, at(`198.51.100.${i}`))!);
});

test("ip-hash: when a client's server is down it goes to the same second choice each time; nobody else moves", () => {
  const list = servers(5);
  const selector = create(ipHash, list);
  const ips = Array.from({ length: 2000 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  const before = ips.map((ip) => selector.pick(list, () => true, at(ip))!);
  const down = list[2]!;
  const up = (s: UpstreamServer) => s !== down;
  const during = ips.map((ip) => selector.pick(list, up, at(ip))!);
  ips.forEach((ip, i) => {
    if (before[i] !== down) expect(during[i]).toBe(before[i]!);
    else expect(selector.pick(list, up, at(ip))).toBe(during[i]!);
  });
  const moved = during.filter((s, i) => s !== before[i]);
  expect(new Set(moved.map((s) => s.id)).size).toBe(4); // its clients spread over the others
  expect(ips.map((ip) => selector.pick(list, () => true, at(ip)))).toEqual(before); // back when it returns
});

test("ip-hash: with all servers but one out, every client still gets the one left", () => {
  const list = servers(32);
  const selector = create(ipHash, list);
  for (let i = 0; i < 300; i++) expect(selector.pick(list, (s) => s === list[17], inputFor(i, T0))).toBe(list[17]!);
});
