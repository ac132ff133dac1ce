// The cases every balancing algorithm passes (as hono's src/router/common.case.test.ts for its routers):
// each tests/balancing-<name>.test.ts calls runSelectorCases with its factory and what to expect of it.
import { describe, expect, test } from "bun:test";
import { UpstreamServer, type ServerOptions } from "../gateway/pool/server.ts";
import type { SelectionInput, Selector, SelectorFactory } from "../gateway/balancing/selector.ts";
import { mulberry32 } from "./helpers/common.ts";

export const T0 = 1_700_000_000_000;

/** A server as the pool builds one, on 127.0.0.1:9000+n. */
export function server(n: number, options: Partial<ServerOptions> = {}): UpstreamServer {
  const port = 9000 + n;
  return new UpstreamServer(`http://127.0.0.1:${port}`, "127.0.0.1", port, {
    id: options.id ?? `s${n}`,
    weight: 1,
    backup: false,
    down: false,
    maxConns: 0,
    maxFails: 1,
    failTimeout: 10_000,
    slowStart: 0,
    ...options,
  });
}

export function servers(count: number, options: Partial<ServerOptions> = {}): UpstreamServer[] {
  return Array.from({ length: count }, (_, i) => server(i + 1, options));
}

export function create(factory: SelectorFactory, all: readonly UpstreamServer[], options: { hash?: string; seed?: number } = {}): Selector {
  return factory({ hash: options.hash ?? "ip", servers: all, random: mulberry32(options.seed ?? 42) });
}

/** The input of request number `i`: every key the hash algorithms read differs from request to request. */
export function inputFor(i: number, now: number): SelectionInput {
  return { now, clientIp: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, hashKey: `key-${i}`, uri: `/item/${i}?v=1` };
}

export interface TrafficOptions {
  /** Which servers the pool would allow (default: all). */
  eligible?: (server: UpstreamServer, i: number) => boolean;
  /** Requests kept in flight (`active`) at once: each ends, answering in `latencyMs`, `inFlight` picks later. */
  inFlight?: number;
  latencyMs?: number;
  /** The clock at the first pick, and its step per pick (ms). */
  start?: number;
  step?: number;
  /** The input of pick i (default: inputFor). */
  input?: (i: number, now: number) => SelectionInput;
}

/**
 * Send `picks` requests through `selector` as the pool would: count where each goes, keep a window of
 * them in flight (active), feed latencies when they end. Returns counts by server id (undefined picks as "-").
 */
export function traffic(selector: Selector, list: readonly UpstreamServer[], picks: number, options: TrafficOptions = {}): Map<string, number> {
  const counts = new Map<string, number>(list.map((s) => [s.id, 0]));
  const window: UpstreamServer[] = [];
  const inFlight = options.inFlight ?? 8;
  const latency = options.latencyMs ?? 10;
  const step = options.step ?? 1;
  let now = options.start ?? T0;
  for (let i = 0; i < picks; i++, now += step) {
    const eligible = options.eligible;
    const chosen = selector.pick(list, eligible ? (s) => eligible(s, i) : () => true, (options.input ?? inputFor)(i, now));
    const id = chosen?.id ?? "-";
    counts.set(id, (counts.get(id) ?? 0) + 1);
    if (!chosen || inFlight === 0) continue;
    chosen.active++;
    window.push(chosen);
    if (window.length > inFlight) {
      const done = window.shift()!;
      done.active--;
      done.observeLatency(latency, now);
    }
  }
  for (const s of window) s.active--;
  return counts;
}

export function shares(counts: Map<string, number>): Map<string, number> {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return new Map([...counts].map(([id, n]) => [id, n / total]));
}

export interface Expectations {
  /**
   * How equal servers share traffic: `even` — each close to 1/n (within `tolerance`); `all-to-first` — `first`.
   */
  spread: "even" | "all-to-first";
  /**
   * How weights show: `proportional` — each share within `tolerance` of weight/total; `favours` — more weight,
   * more traffic, not proportionally (least-cost choices); `none`.
   */
  weights: "proportional" | "favours" | "none";
  /** Absolute tolerance on a share (0.25 ± tolerance). */
  tolerance: number;
  /** Does slow start's ramping weight lower a recovering server's share? */
  slowStart: boolean;
  /** Does the pick depend on the request's key (hash algorithms)? Then the same key always gets the same server. */
  keyed?: boolean;
}

export function runSelectorCases(name: string, factory: SelectorFactory, expect_: Expectations): void {
  describe(`${name}: shared selector cases`, () => {
    test("a single server gets every request", () => {
      const [a] = servers(1);
      const counts = traffic(create(factory, [a!]), [a!], 200);
      expect(counts.get("s1")).toBe(200);
    });

    test("returns undefined when no server is eligible", () => {
      const list = servers(4);
      const selector = create(factory, list);
      for (let i = 0; i < 50; i++) expect(selector.pick(list, () => false, inputFor(i, T0 + i))).toBeUndefined();
      expect(selector.pick([], () => true, inputFor(0, T0))).toBeUndefined();
      const [one] = servers(1);
      expect(create(factory, [one!]).pick([one!], () => false, inputFor(0, T0))).toBeUndefined();
    });

    test("picks only eligible servers, whatever changes between picks", () => {
      const list = servers(5);
      const selector = create(factory, list);
      const seen = new Set<string>();
      for (let i = 0; i < 3000; i++) {
        const mask = (i * 7) % 32; // includes 0: nothing eligible
        const eligible = (s: UpstreamServer) => ((mask >> list.indexOf(s)) & 1) === 1;
        const chosen = selector.pick(list, eligible, inputFor(i, T0 + i));
        if (mask === 0) expect(chosen).toBeUndefined();
        else {
          expect(chosen).toBeDefined();
          expect(eligible(chosen!)).toBe(true);
          seen.add(chosen!.id);
        }
      }
      expect(seen.size).toBe(5);
    });

    test("never picks a server excluded as down or already tried", () => {
      const list = servers(4);
      const down = list[1]!;
      const tried = list[3]!;
      const counts = traffic(create(factory, list), list, 2000, { eligible: (s) => s !== down && s !== tried });
      expect(counts.get(down.id)).toBe(0);
      expect(counts.get(tried.id)).toBe(0);
      expect(counts.get("-")).toBeUndefined();
      if (expect_.spread === "even") {
        expect(counts.get("s1")!).toBeGreaterThan(2000 * (0.5 - expect_.tolerance));
        expect(counts.get("s3")!).toBeGreaterThan(2000 * (0.5 - expect_.tolerance));
      } else expect(counts.get("s1")).toBe(2000);
    });

    test(expect_.spread === "even" ? "equal servers share the traffic evenly" : "equal servers: the first takes everything", () => {
      const list = servers(4);
      const counts = shares(traffic(create(factory, list), list, 8000));
      for (const s of list) {
        if (expect_.spread === "even") expect(Math.abs(counts.get(s.id)! - 0.25)).toBeLessThanOrEqual(expect_.tolerance);
        else expect(counts.get(s.id)).toBe(s === list[0] ? 1 : 0);
      }
    });

    test(`weights: ${expect_.weights}`, () => {
      const list = [server(1, { weight: 1 }), server(2, { weight: 2 }), server(3, { weight: 3 }), server(4, { weight: 2 })];
      const counts = shares(traffic(create(factory, list), list, 16_000));
      const [a, b, c, d] = list.map((s) => counts.get(s.id)!);
      if (expect_.weights === "proportional") {
        list.forEach((s) => expect(Math.abs(counts.get(s.id)! - s.weight / 8)).toBeLessThanOrEqual(expect_.tolerance));
      } else if (expect_.weights === "favours") {
        expect(a!).toBeLessThan(b!);
        expect(b!).toBeLessThan(c!);
        expect(Math.abs(b! - d!)).toBeLessThanOrEqual(expect_.tolerance);
      } else expect(a).toBe(1);
    });

    test(expect_.slowStart ? "a server in slow start gets a small share, then its full share" : "slow start does not change the choice", () => {
      const ramping = server(1, { slowStart: 100_000 });
      ramping.recovered(T0); // effective weight 10% for the first 10 s
      const list = [ramping, server(2), server(3), server(4)];
      // One request at a time: with a few in flight, least-cost algorithms give a light server one of them
      // whenever it is idle, which says more about granularity than about its weight.
      const early = shares(traffic(create(factory, list), list, 4000, { start: T0 + 1, inFlight: 0 }));
      const late = shares(traffic(create(factory, list), list, 4000, { start: T0 + 200_000, inFlight: 0 }));
      if (!expect_.slowStart) {
        expect(early.get("s1")).toBe(late.get("s1")!);
        return;
      }
      // Weight 0.1 of 3.1: about 3%; hash algorithms admit 10% of its keys: 2.5%.
      expect(early.get("s1")!).toBeGreaterThan(0);
      expect(early.get("s1")!).toBeLessThan(0.08);
      expect(Math.abs(late.get("s1")! - 0.25)).toBeLessThanOrEqual(expect_.tolerance);
    });

    test("picks only from the list it is given: primaries, then backups", () => {
      const primaries = servers(3);
      const backups = [server(7, { backup: true }), server(8, { backup: true })];
      const all = [...primaries, ...backups];
      const selector = create(factory, all);
      const fromPrimaries = traffic(selector, primaries, 600);
      const fromBackups = traffic(selector, backups, 600);
      expect(primaries.reduce((n, s) => n + fromPrimaries.get(s.id)!, 0)).toBe(600);
      expect(backups.reduce((n, s) => n + fromBackups.get(s.id)!, 0)).toBe(600);
      if (expect_.spread === "even") for (const s of all) expect((fromPrimaries.get(s.id) ?? fromBackups.get(s.id))!).toBeGreaterThan(0);
      // A list it has never seen (a new array each time) works too.
      for (let i = 0; i < 100; i++) {
        const chosen = selector.pick([primaries[2]!, backups[0]!], (s) => s !== backups[0], inputFor(i, T0 + i));
        expect(chosen).toBe(primaries[2]!);
      }
    });

    test("the same inputs give the same choices (seeded randomness, no hidden clock)", () => {
      const run = () => {
        const list = servers(5);
        return [...traffic(create(factory, list, { seed: 7 }), list, 500, { input: (i, now) => ({ ...inputFor(i, now), now: T0 + i * 3 }) })];
      };
      expect(run()).toEqual(run());
    });

    if (expect_.keyed) {
      test("the same key gets the same server, and many keys reach every server", () => {
        const list = servers(4);
        const selector = create(factory, list);
        const seen = new Set<string>();
        for (let i = 0; i < 400; i++) {
          const chosen = selector.pick(list, () => true, inputFor(i, T0 + i));
          seen.add(chosen!.id);
          for (let again = 1; again <= 3; again++) expect(selector.pick(list, () => true, inputFor(i, T0 + i + again * 5000))).toBe(chosen!);
        }
        expect(seen.size).toBe(4);
      });
    }
  });
}
