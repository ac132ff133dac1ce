import { expect, test } from "bun:test";
import { roundRobin } from "../gateway/balancing/round-robin.ts";
import { create, inputFor, runSelectorCases, server, T0 } from "./balancing.case.ts";

runSelectorCases("round-robin", roundRobin, { spread: "even", weights: "proportional", tolerance: 0.01, slowStart: true });

test("round-robin: weights 5:1:1 interleave smoothly (a a b a c a a), as nginx", () => {
  const list = [server(1, { id: "a", weight: 5 }), server(2, { id: "b" }), server(3, { id: "c" })];
  const selector = create(roundRobin, list);
  const order = Array.from({ length: 14 }, (_, i) => selector.pick(list, () => true, inputFor(i, T0))!.id).join(" ");
  expect(order).toBe("a a b a c a a a a b a c a a");
});

test("round-robin: a server left out meanwhile does not get a burst when it returns", () => {
  const list = [server(1, { id: "a" }), server(2, { id: "b" })];
  const selector = create(roundRobin, list);
  for (let i = 0; i < 10; i++) expect(selector.pick(list, (s) => s.id === "a", inputFor(i, T0))!.id).toBe("a");
  const after = Array.from({ length: 6 }, (_, i) => selector.pick(list, () => true, inputFor(i, T0))!.id).join(" ");
  expect(after).toBe("a b a b a b");
});
