// The pieces of active health checks on their own: `expect` status lists and ranges, rise/fall
// counting, how probe errors are worded, and the jittered schedule of one server's checker.
import { describe, expect, test } from "bun:test";
import { parseStatusExpectation } from "../gateway/health/expect.ts";
import { RiseFall } from "../gateway/health/rise-fall.ts";
import { describeProbeError, type Probe, type ProbeOutcome } from "../gateway/health/probe.ts";
import { until } from "./helpers/common.ts";
import { FIRST_CHECK_WITHIN_MS, JITTER, ServerChecker } from "../gateway/health/checker.ts";
import { Pool } from "../gateway/pool/pool.ts";
import { configSchema } from "../gateway/config/schema.ts";

describe("expect: which statuses pass", () => {
  const passes = (text: string, statuses: number[]) => statuses.filter((s) => parseStatusExpectation(text).test(s));
  const all = [100, 199, 200, 201, 204, 205, 299, 301, 304, 399, 400, 404, 500, 503];

  test('a range "200-399" takes both ends and what is between', () => {
    expect(passes("200-399", all)).toEqual([200, 201, 204, 205, 299, 301, 304, 399]);
  });
  test('a list "200,204" takes exactly those codes', () => {
    expect(passes("200,204", all)).toEqual([200, 204]);
    expect(passes("204", all)).toEqual([204]);
  });
  test("lists of ranges and codes mix, spaces allowed", () => {
    expect(passes("200-204, 301,400-404", all)).toEqual([200, 201, 204, 301, 400, 404]);
  });
  test("a range written backwards is the same range", () => {
    expect(passes("399-200", all)).toEqual(passes("200-399", all));
  });
  test("keeps the text for log lines", () => {
    expect(parseStatusExpectation("200,204").text).toBe("200,204");
  });
  test("the schema refuses what is not a list of codes and ranges", () => {
    for (const bad of ["2xx", "200-", "200;204", "", "600"]) {
      const parsed = configSchema.safeParse({ pools: { app: { servers: [{ url: "http://127.0.0.1:1" }], health: { expect: bad } } } });
      expect(parsed.success).toBe(false);
      expect(() => parseStatusExpectation(bad)).toThrow();
    }
  });
});

describe("rise and fall", () => {
  test("a healthy server goes down only after `fall` failures in a row", () => {
    const rf = new RiseFall(2, 3);
    expect(rf.record(false, true)).toBeUndefined();
    expect(rf.record(false, true)).toBeUndefined();
    expect(rf.record(true, true)).toBeUndefined(); // one pass breaks the streak
    expect(rf.record(false, true)).toBeUndefined();
    expect(rf.record(false, true)).toBeUndefined();
    expect(rf.record(false, true)).toEqual({ flip: "down", streak: 3 });
  });
  test("a down server comes back only after `rise` passes in a row", () => {
    const rf = new RiseFall(3, 1);
    expect(rf.record(true, false)).toBeUndefined();
    expect(rf.record(true, false)).toBeUndefined();
    expect(rf.record(false, false)).toBeUndefined(); // one failure breaks the streak
    expect(rf.record(true, false)).toBeUndefined();
    expect(rf.record(true, false)).toBeUndefined();
    expect(rf.record(true, false)).toEqual({ flip: "up", streak: 3 });
  });
  test("results that agree with the state change nothing", () => {
    const rf = new RiseFall(1, 1);
    for (let i = 0; i < 5; i++) expect(rf.record(true, true)).toBeUndefined();
    for (let i = 0; i < 5; i++) expect(rf.record(false, false)).toBeUndefined();
  });
  test("rise 1 / fall 1 flip on every change", () => {
    const rf = new RiseFall(1, 1);
    expect(rf.record(false, true)).toEqual({ flip: "down", streak: 1 });
    expect(rf.record(true, false)).toEqual({ flip: "up", streak: 1 });
  });
});

describe("probe errors in a few words", () => {
  const cases: Array<[string, unknown, string]> = [
    [
      "Bun fetch, refused",
      Object.assign(new Error("Unable to connect. Is the computer able to access the url?"), { code: "ConnectionRefused" }),
      "connection refused",
    ],
    ["Bun.connect, refused", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), "connection refused"],
    ["Deno, refused", new Error("Connection refused (os error 111)"), "connection refused"],
    ["reset", Object.assign(new Error("The socket connection was closed unexpectedly"), { code: "ECONNRESET" }), "connection reset"],
    ["Deno AbortSignal.timeout", new DOMException("Signal timed out.", "TimeoutError"), "timeout"],
    ["Bun probeTcp timeout", new Error("connect timeout after 100ms"), "timeout"],
    ["anything else keeps its message", new Error("something else"), "something else"],
  ];
  for (const [name, error, words] of cases) {
    test(name, () => expect(describeProbeError(error)).toBe(words));
  }
});

describe("the checker's schedule", () => {
  function poolOf(n: number): Pool {
    const config = configSchema.parse({ pools: { app: { servers: Array.from({ length: n }, (_, i) => ({ url: `http://127.0.0.1:${1000 + i}` })) } } });
    return new Pool("app", config.pools.app!);
  }

  /** Run a checker until its probe has been called `count` times; returns the call times (ms from start). */
  async function probeTimes(interval: number, random: () => number, count: number): Promise<number[]> {
    const pool = poolOf(1);
    const times: number[] = [];
    const started = performance.now();
    const probe: Probe = async () => {
      times.push(performance.now() - started);
      return { ok: true, status: 200 };
    };
    const checker = new ServerChecker({ pool, server: pool.servers[0]!, probe, interval, timeout: 50, rise: 1, fall: 1, log: () => {}, random });
    checker.start();
    await until(() => times.length >= count, `${count} checks`, 5_000, 2);
    checker.stop();
    return times.slice(0, count);
  }

  const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

  test("the first check comes within min(interval, 1s), the next ones every interval ± jitter", async () => {
    const interval = 100;
    const times = await probeTimes(interval, Math.random, 5);
    expect(times[0]!).toBeLessThan(Math.min(interval, FIRST_CHECK_WITHIN_MS) + 30);
    for (const gap of gaps(times)) {
      expect(gap).toBeGreaterThanOrEqual(interval * (1 - JITTER) - 5);
      expect(gap).toBeLessThan(interval * (1 + JITTER) + 40);
    }
  });

  test("jitter pinned at its extremes gives the shortest and the longest waits", async () => {
    const short = await probeTimes(100, () => 0, 4);
    const long = await probeTimes(100, () => 0.999, 4);
    expect(short[0]!).toBeLessThan(20); // random() = 0: first check at once
    expect(long[0]!).toBeGreaterThanOrEqual(90);
    // 85 ms and 115 ms: timers fire late at times, never early, so the longest waits are all near 115 ms and
    // the shortest at least once well below 100 ms.
    expect(Math.min(...gaps(short))).toBeLessThan(100);
    for (const gap of gaps(long)) expect(gap).toBeGreaterThanOrEqual(100 * (1 + JITTER * 0.998) - 2);
  });

  test("many servers' first checks are spread, not all at once", async () => {
    const pool = poolOf(20);
    const firsts: number[] = [];
    const started = performance.now();
    const checkers = pool.servers.map((server) => {
      let seen = false;
      const probe: Probe = async () => {
        if (!seen) firsts.push(performance.now() - started);
        seen = true;
        return { ok: true };
      };
      return new ServerChecker({ pool, server, probe, interval: 200, timeout: 50, rise: 1, fall: 1, log: () => {} });
    });
    for (const c of checkers) c.start();
    await until(() => firsts.length === 20, "every server's first check", 2_000, 2);
    for (const c of checkers) c.stop();
    const spreadMs = Math.max(...firsts) - Math.min(...firsts);
    expect(spreadMs).toBeGreaterThan(50);
    expect(Math.max(...firsts)).toBeLessThan(230);
  });

  test("stop aborts a probe in flight and drops its result", async () => {
    const pool = poolOf(1);
    const server = pool.servers[0]!;
    let aborted = false;
    let answer: Promise<ProbeOutcome> | undefined;
    const probe: Probe = (signal) =>
      (answer = new Promise((resolve) => {
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve({ ok: false, reason: "aborted" });
        });
      }));
    const checker = new ServerChecker({ pool, server, probe, interval: 100, timeout: 5_000, rise: 1, fall: 1, log: () => {}, random: () => 0 });
    checker.start();
    await until(() => answer !== undefined, "the first probe");
    checker.stop();
    expect(aborted).toBe(true);
    // The checker awaits the same answer, and was first to: once it is in, the checker has judged it or not.
    await answer;
    expect(server.lastCheck).toBeUndefined();
    expect(server.healthy).toBe(true);
  });

  test("a probe that throws is a failed check, not a crash", async () => {
    const pool = poolOf(1);
    const server = pool.servers[0]!;
    const lines: string[] = [];
    const probe: Probe = async () => {
      throw new Error("boom");
    };
    const checker = new ServerChecker({ pool, server, probe, interval: 50, timeout: 50, rise: 1, fall: 1, log: (l) => lines.push(l), random: () => 0 });
    checker.start();
    await until(() => server.lastCheck !== undefined, "the first check");
    checker.stop();
    expect(server.healthy).toBe(false);
    expect(server.lastCheck).toMatchObject({ ok: false, reason: "boom" });
    expect(lines).toEqual(["sluice: pool app server 127.0.0.1:1000 is DOWN (1 check failed: boom)", "sluice: pool app has no server available"]);
  });
});
