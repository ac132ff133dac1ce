import { expect, test } from "bun:test";
import { leastConn } from "../gateway/balancing/least-conn.ts";
import { create, inputFor, runSelectorCases, server, servers, shares, T0, traffic } from "./balancing.case.ts";

runSelectorCases("least-conn", leastConn, { spread: "even", weights: "proportional", tolerance: 0.03, slowStart: true });

test("least-conn: prefers the idle server, then the least busy", () => {
  const list = servers(3);
  const selector = create(leastConn, list);
  [list[0]!.active, list[1]!.active, list[2]!.active] = [3, 0, 1];
  expect(selector.pick(list, () => true, inputFor(0, T0))!.id).toBe("s2");
  list[1]!.active = 5;
  expect(selector.pick(list, () => true, inputFor(1, T0))!.id).toBe("s3");
});

test("least-conn: in flight relative to weight (4 in flight on weight 4 beats 2 on weight 1)", () => {
  const list = [server(1, { weight: 4 }), server(2, { weight: 1 })];
  [list[0]!.active, list[1]!.active] = [3, 1];
  expect(create(leastConn, list).pick(list, () => true, inputFor(0, T0))!.id).toBe("s1");
});

test("least-conn: equal idle servers take turns; idle weights 1:3 split 1:3, as round-robin", () => {
  const list = servers(3);
  const selector = create(leastConn, list);
  const order = Array.from({ length: 6 }, (_, i) => selector.pick(list, () => true, inputFor(i, T0))!.id).join(" ");
  expect(order).toBe("s1 s2 s3 s1 s2 s3");
  const weighted = [server(1, { weight: 1 }), server(2, { weight: 3 })];
  const counts = traffic(create(leastConn, weighted), weighted, 400, { inFlight: 0 });
  expect([counts.get("s1"), counts.get("s2")]).toEqual([100, 300]);
});

test("least-conn: a slow server (long requests) gets fewer requests", () => {
  const list = servers(2);
  const selector = create(leastConn, list);
  const counts = new Map<string, number>();
  const ends: Array<{ at: number; server: (typeof list)[number] }> = [];
  for (let t = 0; t < 10_000; t += 5) {
    for (let k = ends.length - 1; k >= 0; k--) if (ends[k]!.at <= t) ends.splice(k, 1)[0]!.server.active--;
    const chosen = selector.pick(list, () => true, inputFor(t, T0 + t))!;
    counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
    chosen.active++;
    ends.push({ at: t + (chosen.id === "s1" ? 200 : 20), server: chosen });
  }
  expect(shares(counts).get("s2")!).toBeGreaterThan(0.8);
});
