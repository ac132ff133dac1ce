import { expect, test } from "bun:test";
import { p2c } from "../gateway/balancing/p2c.ts";
import { create, inputFor, runSelectorCases, servers, shares, traffic, T0 } from "./balancing.case.ts";

runSelectorCases("p2c", p2c, { spread: "even", weights: "proportional", tolerance: 0.03, slowStart: true });

test("p2c: of two servers, always the less loaded one", () => {
  const list = servers(2);
  [list[0]!.active, list[1]!.active] = [10, 2];
  const selector = create(p2c, list);
  for (let i = 0; i < 200; i++) expect(selector.pick(list, () => true, inputFor(i, T0))!.id).toBe("s2");
});

test("p2c: the busiest of four is never chosen (it loses every pair), the others share", () => {
  const list = servers(4);
  list[0]!.active = 50;
  const counts = traffic(create(p2c, list), list, 3000, { inFlight: 0 });
  expect(counts.get("s1")).toBe(0);
  for (const id of ["s2", "s3", "s4"]) expect(Math.abs(shares(counts).get(id)! - 1 / 3)).toBeLessThan(0.04);
});

test("p2c: draws two distinct servers: with one idle and one busy eligible, the idle one always wins", () => {
  const list = servers(16);
  list[3]!.active = 1;
  const eligible = (s: { id: string }) => s.id === "s4" || s.id === "s9";
  const selector = create(p2c, list);
  for (let i = 0; i < 200; i++) expect(selector.pick(list, eligible, inputFor(i, T0))!.id).toBe("s9");
});
