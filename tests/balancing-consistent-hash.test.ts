import { expect, test } from "bun:test";
import { consistentHash } from "../gateway/balancing/consistent-hash.ts";
import type { Selector } from "../gateway/balancing/selector.ts";
import type { UpstreamServer } from "../gateway/pool/server.ts";
import { create, runSelectorCases, server, servers, T0 } from "./balancing.case.ts";

runSelectorCases("consistent-hash", consistentHash, { spread: "even", weights: "proportional", tolerance: 0.04, slowStart: true, keyed: true });

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function assign(selector: Selector, list: readonly UpstreamServer[], eligible: (s: UpstreamServer) => boolean = () => true, now = T0): UpstreamServer[] {
  return KEYS.map((hashKey) => selector.pick(list, eligible, { now, clientIp: "203.0.113.9", hashKey })!);
}

test("consistent-hash: failing one of 4 servers moves only its keys; restoring it brings back exactly those", () => {
  const list = servers(4);
  const selector = create(consistentHash, list, { hash: "cookie:user" });
  expect(selector.needsHashKey).toBe(true);
  const before = assign(selector, list);
  for (const down of list) {
    const during = assign(selector, list, (s) => s !== down);
    let moved = 0;
    KEYS.forEach((_, i) => {
      if (before[i] === down) {
        expect(during[i]).not.toBe(down);
        moved++;
      } else expect(during[i]).toBe(before[i]!);
    });
    expect(moved).toBeGreaterThan(1500); // about a quarter of the keys were its own
    expect(moved).toBeLessThan(3500);
    // Its keys spread over the others (virtual nodes), not all onto one neighbour.
    const heirs = new Set(during.filter((_, i) => before[i] === down).map((s) => s.id));
    expect(heirs.size).toBe(3);
    expect(assign(selector, list)).toEqual(before);
  }
});

test("consistent-hash: a second server failing moves only its own keys too", () => {
  const list = servers(4);
  const selector = create(consistentHash, list);
  const one = assign(selector, list, (s) => s !== list[0]);
  const two = assign(selector, list, (s) => s !== list[0] && s !== list[1]);
  KEYS.forEach((_, i) => {
    if (one[i] !== list[1]) expect(two[i]).toBe(one[i]!);
  });
});

test("consistent-hash: weights change the share roughly proportionally", () => {
  const list = [server(1, { weight: 1 }), server(2, { weight: 1 }), server(3, { weight: 2 }), server(4, { weight: 4 })];
  const counts = new Map<string, number>();
  for (const s of assign(create(consistentHash, list), list)) counts.set(s.id, (counts.get(s.id) ?? 0) + 1);
  list.forEach((s) => expect(Math.abs(counts.get(s.id)! / KEYS.length - s.weight / 8)).toBeLessThan(0.035));
});

test("consistent-hash: the ring comes from server ids: config order and other gateways do not matter", () => {
  const list = servers(5);
  const reversed = [...list].reverse();
  const a = assign(create(consistentHash, list), list);
  const b = assign(create(consistentHash, reversed), reversed);
  expect(b).toEqual(a);
});

test("consistent-hash: adding a server to the config takes keys only for itself", () => {
  const four = servers(4);
  const five = [...four, server(5)];
  const before = assign(create(consistentHash, four), four);
  const after = assign(create(consistentHash, five), five);
  let taken = 0;
  KEYS.forEach((_, i) => {
    if (after[i] === five[4]) taken++;
    else expect(after[i]).toBe(before[i]!);
  });
  expect(taken).toBeGreaterThan(1200);
});

test("consistent-hash: a weight changed at run time moves keys only to (or from) that server", () => {
  const list = servers(4);
  const selector = create(consistentHash, list);
  const before = assign(selector, list);
  list[2]!.live.weight = 3;
  const after = assign(selector, list, () => true, T0 + 5_000); // after the periodic weight check
  let gained = 0;
  KEYS.forEach((_, i) => {
    if (after[i] !== before[i]) {
      expect(after[i]).toBe(list[2]!);
      gained++;
    }
  });
  expect(gained).toBeGreaterThan(1500);
});

test("consistent-hash: slow start brings a server's keys back gradually, each key once, from where it was kept", () => {
  const list = servers(4, { slowStart: 100_000 });
  const selector = create(consistentHash, list);
  const home = assign(selector, list);
  const back = list[1]!;
  const away = assign(selector, list, (s) => s !== back);
  back.recovered(T0); // back in rotation: its weight ramps from 10% over 100 s
  let previous = 0;
  for (const elapsed of [1_000, 30_000, 60_000, 90_000, 100_000]) {
    const now = T0 + elapsed;
    const during = assign(selector, list, () => true, now);
    let mine = 0;
    KEYS.forEach((_, i) => {
      if (during[i] === back) {
        mine++;
        expect(home[i]).toBe(back); // only its own keys come back…
      } else expect(during[i]).toBe(home[i] === back ? away[i]! : home[i]!); // …the rest stay where they were kept
    });
    const expected = (home.filter((s) => s === back).length * back.effectiveWeight(now)) / back.weight;
    expect(Math.abs(mine - expected)).toBeLessThan(120);
    expect(mine).toBeGreaterThanOrEqual(previous);
    previous = mine;
  }
  expect(assign(selector, list, () => true, T0 + 100_000)).toEqual(home);
});

test("consistent-hash: when every server with points is out, a zero-weight server still serves", () => {
  const list = servers(3);
  list[2]!.live.weight = 0;
  const selector = create(consistentHash, list);
  expect(selector.pick(list, (s) => s === list[2], { now: T0 + 2_000, clientIp: "x", hashKey: "k" })).toBe(list[2]!);
});
