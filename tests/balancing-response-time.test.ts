import { expect, test } from "bun:test";
import { responseTime } from "../gateway/balancing/response-time.ts";
import type { UpstreamServer } from "../gateway/pool/server.ts";
import { create, inputFor, runSelectorCases, servers, T0 } from "./balancing.case.ts";

runSelectorCases("response-time", responseTime, { spread: "even", weights: "favours", tolerance: 0.03, slowStart: true });

/**
 * One request at a time every 100 ms of fake clock, each answering in latencyOf(server, t) ms (fed back as
 * the proxy does): the share of `id` among the picks in [from, to).
 */
function run(list: UpstreamServer[], latencyOf: (s: UpstreamServer, t: number) => number, until: number) {
  const selector = create(responseTime, list);
  const picks: Array<{ t: number; id: string }> = [];
  for (let t = 0; t < until; t += 100) {
    const chosen = selector.pick(list, () => true, inputFor(t, T0 + t))!;
    picks.push({ t, id: chosen.id });
    chosen.observeLatency(latencyOf(chosen, t), T0 + t + 1);
  }
  return (id: string, from: number, to: number) => {
    const inWindow = picks.filter((p) => p.t >= from && p.t < to);
    return inWindow.filter((p) => p.id === id).length / inWindow.length;
  };
}

test("response-time: shifts away from a server whose latency jumps, comes back once it recovers", () => {
  const list = servers(2);
  // s1 answers in 10 ms, except from 60 s to 120 s when it takes 400 ms; s2 always 20 ms.
  const share = run(list, (s, t) => (s.id === "s2" ? 20 : t >= 60_000 && t < 120_000 ? 400 : 10), 300_000);
  expect(share("s1", 10_000, 60_000)).toBeGreaterThan(0.6); // the faster server takes most
  expect(share("s1", 61_000, 120_000)).toBeLessThan(0.1); // slow: avoided at once (peak EWMA), only probed
  expect(share("s1", 61_000, 120_000)).toBeGreaterThan(0); // …but probed now and then (the estimate decays)
  expect(share("s1", 200_000, 300_000)).toBeGreaterThan(0.6); // fast again: wins its traffic back
});

test("response-time: a server with no sample yet is tried first, but not flooded while its answer is pending", () => {
  const list = servers(3);
  list[0]!.observeLatency(5, T0);
  list[1]!.observeLatency(5, T0);
  const selector = create(responseTime, list);
  const fresh = list[2]!;
  expect(selector.pick(list, () => true, inputFor(0, T0 + 10))).toBe(fresh);
  fresh.active++; // its first request is still in flight (it may hang)
  for (let i = 1; i < 50; i++) {
    const chosen = selector.pick(list, () => true, inputFor(i, T0 + 10 + i))!;
    expect(chosen).not.toBe(fresh);
    chosen.active++;
  }
});

test("response-time: in-flight requests count (latency × (active + 1)), and weight divides the cost", () => {
  const list = servers(2);
  list[0]!.observeLatency(10, T0);
  list[1]!.observeLatency(30, T0);
  const selector = create(responseTime, list);
  expect(selector.pick(list, () => true, inputFor(0, T0))!.id).toBe("s1");
  list[0]!.active = 3; // 10 × 4 = 40 > 30 × 1
  expect(selector.pick(list, () => true, inputFor(1, T0))!.id).toBe("s2");
  list[1]!.live.weight = 2; // 30 / 2 = 15 … and with s1 idle again, 10 < 15
  list[0]!.active = 0;
  expect(selector.pick(list, () => true, inputFor(2, T0))!.id).toBe("s1");
  list[0]!.active = 1; // 20 > 15
  expect(selector.pick(list, () => true, inputFor(3, T0))!.id).toBe("s2");
});

// Latencies are measured on a millisecond clock, so a server on the same machine often answers "in 0 ms".
test("response-time: an answer within the clock's millisecond is still a measurement, not an unknown server", () => {
  const list = servers(2);
  list[0]!.observeLatency(0, T0); // answered within the same millisecond
  list[1]!.observeLatency(40, T0);
  const selector = create(responseTime, list);
  list[0]!.active = 1; // busy with one request: about 1 ms × 2 is still far cheaper than 40 ms
  expect(selector.pick(list, () => true, inputFor(0, T0 + 1))!.id).toBe("s1");
});

test("response-time: a server once slower is probed again while the other keeps answering within a millisecond", () => {
  const list = servers(2, { latencyDecay: 1_000 });
  // s2 answered once in 5 ms; from then on both answer in under a millisecond (measured as 0 ms), s1 once in 1 ms.
  list[1]!.observeLatency(5, T0 - 100);
  let first = true;
  const share = run(
    list,
    (s) => {
      if (s.id !== "s1" || !first) return 0;
      first = false;
      return 1;
    },
    60_000,
  );
  expect(share("s2", 0, 10_000)).toBeGreaterThan(0); // probed within τ × ln(5 ms / 1 ms) ≈ 1.6 s, not never
  expect(share("s2", 20_000, 60_000)).toBeGreaterThan(0.3); // and, as fast as s1, back to its share
});
