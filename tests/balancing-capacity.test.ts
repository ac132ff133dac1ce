import { expect, test } from "bun:test";
import { capacity } from "../gateway/balancing/capacity.ts";
import { LOAD_REPORT_TTL_MS } from "../gateway/pool/server.ts";
import { create, runSelectorCases, servers, shares, T0, traffic } from "./balancing.case.ts";

runSelectorCases("capacity", capacity, { spread: "even", weights: "proportional", tolerance: 0.01, slowStart: true });

test("capacity: follows the reported load: spare capacity 1.0 : 0.5 : 0.25 splits 4 : 2 : 1", () => {
  const list = servers(3);
  list[0]!.live.recordLoad(0, T0);
  list[1]!.live.recordLoad(0.5, T0);
  list[2]!.live.recordLoad(0.75, T0);
  const counts = traffic(create(capacity, list), list, 700, { inFlight: 0, start: T0 + 1 });
  expect([counts.get("s1"), counts.get("s2"), counts.get("s3")]).toEqual([400, 200, 100]);
  // New reports change the split at once.
  list[0]!.live.recordLoad(0.75, T0 + 1000);
  list[2]!.live.recordLoad(0, T0 + 1000);
  const after = traffic(create(capacity, list), list, 700, { inFlight: 0, start: T0 + 1001 });
  expect([after.get("s1"), after.get("s2"), after.get("s3")]).toEqual([100, 200, 400]);
});

test("capacity: weight × spare capacity", () => {
  const list = [...servers(1), ...servers(2, { weight: 3 }).slice(1)];
  list[0]!.live.recordLoad(0, T0); // 1 × 1.0
  list[1]!.live.recordLoad(0.5, T0); // 3 × 0.5
  const counts = traffic(create(capacity, list), list, 500, { inFlight: 0, start: T0 + 1 });
  expect([counts.get("s1"), counts.get("s2")]).toEqual([200, 300]);
});

test("capacity: a stale report is ignored: the server counts as loaded like the fleet's average", () => {
  const list = servers(3);
  list[0]!.live.recordLoad(1, T0); // stale by the time of the picks
  list[1]!.live.recordLoad(0.5, T0 + LOAD_REPORT_TTL_MS);
  list[2]!.live.recordLoad(0.5, T0 + LOAD_REPORT_TTL_MS);
  const now = T0 + LOAD_REPORT_TTL_MS + 1;
  expect(list[0]!.currentLoad(now)).toBeUndefined();
  const counts = traffic(create(capacity, list), list, 300, { inFlight: 0, start: now });
  expect([counts.get("s1"), counts.get("s2"), counts.get("s3")]).toEqual([100, 100, 100]);
});

test("capacity: no reports anywhere: by weight alone; one server not reporting: the others' average", () => {
  const list = servers(2);
  const none = traffic(create(capacity, list), list, 200, { inFlight: 0 });
  expect([none.get("s1"), none.get("s2")]).toEqual([100, 100]);
  const three = servers(3);
  three[0]!.live.recordLoad(0.2, T0);
  three[1]!.live.recordLoad(0.6, T0); // average 0.4 for s3: spare 0.8 : 0.4 : 0.6
  const counts = traffic(create(capacity, three), three, 900, { inFlight: 0, start: T0 + 1 });
  expect([counts.get("s1"), counts.get("s2"), counts.get("s3")]).toEqual([400, 200, 300]);
});

test("capacity: a full server (1.0) is still probed now and then; a full fleet still serves by weight", () => {
  const list = servers(2);
  list[0]!.live.recordLoad(1, T0);
  list[1]!.live.recordLoad(0, T0);
  const counts = shares(traffic(create(capacity, list), list, 2100, { inFlight: 0, start: T0 + 1 }));
  expect(counts.get("s1")!).toBeGreaterThan(0.03);
  expect(counts.get("s1")!).toBeLessThan(0.06);
  list[1]!.live.recordLoad(1, T0);
  const full = traffic(create(capacity, list), list, 200, { inFlight: 0, start: T0 + 1 });
  expect([full.get("s1"), full.get("s2")]).toEqual([100, 100]);
});
