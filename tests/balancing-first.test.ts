import { expect, test } from "bun:test";
import { first } from "../gateway/balancing/first.ts";
import { create, inputFor, runSelectorCases, server, T0 } from "./balancing.case.ts";

runSelectorCases("first", first, { spread: "all-to-first", weights: "none", tolerance: 0, slowStart: false });

test("first: fills server 1 up to its maxConns, then server 2…, and refills the first as it frees up", () => {
  const list = [server(1, { maxConns: 2 }), server(2, { maxConns: 2 }), server(3, { maxConns: 1 })];
  const selector = create(first, list);
  const acquire = () => {
    const chosen = selector.pick(list, (s) => s.available(T0), inputFor(0, T0));
    if (chosen) chosen.active++;
    return chosen?.id ?? "-";
  };
  expect(Array.from({ length: 6 }, acquire).join(" ")).toBe("s1 s1 s2 s2 s3 -");
  list[0]!.active--;
  expect(acquire()).toBe("s1");
  list[1]!.active -= 2;
  expect(acquire()).toBe("s2");
});

test("first: config order, not weight", () => {
  const list = [server(1, { weight: 1 }), server(2, { weight: 100 })];
  expect(create(first, list).pick(list, () => true, inputFor(0, T0))!.id).toBe("s1");
});
