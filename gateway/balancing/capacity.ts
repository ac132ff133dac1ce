// Capacity: weight scaled by the spare capacity each server reports (X-Server-Load, 0.0–1.0, on responses and
// health checks), then smooth weighted round-robin over the scaled weights: effective weight × (1 − load).
//
// No fresh report (none yet, or older than the TTL in server.ts): the server counts as loaded like the
// average of the fresh reports among the eligible servers — no report is neither good nor bad news. A fixed
// guess would be: 0 would flood a server that merely stopped reporting, 0.5 would starve a new server in
// an idle fleet, or favour it in a busy one. With no fresh report anywhere the pool balances by weight alone.
//
// A full server (1.0) keeps a floor of FLOOR of its weight instead of 0: it is still probed now and then, so a
// report that it has room again arrives even without health checks, and a fleet that is entirely full still
// serves by weight instead of refusing (maxConns is the hard limit, not this).
//
// O(n): one pass reads eligibility and loads (and the average), one does the round-robin step. Smooth WRR
// rather than random: deterministic and even over short runs.
import type { Selector, SelectorFactory } from "./selector.ts";

const FLOOR = 0.05;
/** In the scratch array: the server is not eligible in this pick. */
const OUT = -1;

export const capacity: SelectorFactory = (): Selector => {
  /** Per pick: each server's fresh load, NaN when it has none, OUT when not eligible (reused, grown once). */
  let loads = new Float64Array(16);
  return {
    needsHashKey: false,
    pick(servers, eligible, input) {
      const now = input.now;
      const n = servers.length;
      if (loads.length < n) loads = new Float64Array(Math.max(n, loads.length * 2));
      let any = false;
      let reports = 0;
      let loadSum = 0;
      for (let i = 0; i < n; i++) {
        const server = servers[i]!;
        if (!eligible(server)) {
          loads[i] = OUT;
          continue;
        }
        any = true;
        const load = server.currentLoad(now);
        if (load === undefined) loads[i] = NaN;
        else {
          loads[i] = load;
          reports++;
          loadSum += load;
        }
      }
      if (!any) return undefined;
      const unknownLoad = reports === 0 ? 0 : loadSum / reports;
      let best;
      let total = 0;
      for (let i = 0; i < n; i++) {
        const load = loads[i]!;
        if (load === OUT) continue;
        const server = servers[i]!;
        const spare = 1 - (load === load ? load : unknownLoad); // NaN: no fresh report
        const weight = server.effectiveWeight(now) * (spare > FLOOR ? spare : FLOOR);
        server.rrCurrent += weight;
        total += weight;
        if (!best || server.rrCurrent > best.rrCurrent) best = server;
      }
      if (best) best.rrCurrent -= total;
      return best;
    },
  };
};
