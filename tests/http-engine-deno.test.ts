// The HTTP engine on Deno: the same exchange, pool and backpressure suites the Bun gateway passes, against the
// gateway running under Deno (deno-sockets.ts under the same engine), with the same upstreams and raw clients
// in this process. Only the pool's own expiry and caps (a unit driven in process) are Bun's alone.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { denoPath } from "./helpers/engine-gateway.ts";
import { exchangeCases } from "./http-engine-exchange.case.ts";
import { poolCases } from "./http-engine-pool.case.ts";
import { backpressureCases } from "./http-engine-backpressure.case.ts";

test("deno is installed (npm ci brings it)", () => {
  expect(existsSync(denoPath)).toBe(true);
});

exchangeCases("deno");
poolCases("deno");
backpressureCases("deno");
