import { expect, test } from "bun:test";
import { random } from "../gateway/balancing/random.ts";
import { mulberry32 } from "./helpers/common.ts";
import { create, inputFor, runSelectorCases, server, servers, shares, T0, traffic } from "./balancing.case.ts";

runSelectorCases("random", random, { spread: "even", weights: "proportional", tolerance: 0.025, slowStart: true });

test("random: a different seed gives a different sequence, the same seed the same", () => {
  const list = servers(4);
  const sequence = (seed: number) => {
    const selector = random({ hash: "ip", servers: list, random: mulberry32(seed) });
    return Array.from({ length: 40 }, (_, i) => selector.pick(list, () => true, inputFor(i, T0))!.id).join();
  };
  expect(sequence(1)).toBe(sequence(1));
  expect(sequence(1)).not.toBe(sequence(2));
});

test("random: skewed weights and most servers out still split exactly by weight (the O(n) fallback)", () => {
  const list = [server(1, { weight: 1000 }), ...servers(14).map((_, i) => server(i + 2, { weight: 1 })), server(16, { weight: 3 })];
  const eligible = (s: { id: string }) => s.id === "s2" || s.id === "s16";
  const counts = shares(traffic(create(random, list), list, 20_000, { eligible, inFlight: 0 }));
  expect(Math.abs(counts.get("s2")! - 0.25)).toBeLessThan(0.015);
  expect(Math.abs(counts.get("s16")! - 0.75)).toBeLessThan(0.015);
  expect(counts.get("s1")).toBe(0);
});

test("random: a weight raised at run time (admin API) takes effect at once", () => {
  const list = servers(2);
  const selector = create(random, list);
  list[1]!.live.weight = 9;
  const counts = shares(traffic(selector, list, 10_000, { inFlight: 0 }));
  expect(Math.abs(counts.get("s2")! - 0.9)).toBeLessThan(0.015);
  list[1]!.live.weight = 1; // lowered: seen at the next periodic check
  const later = shares(traffic(selector, list, 10_000, { inFlight: 0, start: T0 + 5000 }));
  expect(Math.abs(later.get("s2")! - 0.5)).toBeLessThan(0.02);
});

test("random: zero weights still serve rather than nothing", () => {
  const list = servers(3);
  for (const s of list) s.live.weight = 0;
  const counts = traffic(create(random, list), list, 100, { inFlight: 0 });
  expect(counts.get("-")).toBeUndefined();
});
