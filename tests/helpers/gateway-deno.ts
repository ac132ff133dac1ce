// A gateway running on Deno, for the HTTP engine tests run from Bun (tests/helpers/engine-gateway.ts starts it):
// the config comes as JSON in the first argument; it prints one JSON line with its URL, then answers each stdin
// line with one JSON line: "servers" → every pool's servers and their counters, "peak" → its memory.
//   deno run --allow-net --allow-read --allow-env --allow-sys tests/helpers/gateway-deno.ts '{"pools":…}'
import { startGateway } from "../../gateway/gateway.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

const gw = await startGateway({ config: JSON.parse(Deno.args[0]) });
let peak = 0;
const sample = () => (peak = Math.max(peak, Deno.memoryUsage().rss));
setInterval(sample, 10);
const out = (value: unknown) => console.log(JSON.stringify(value));
out({ url: gw.url, runtime: "deno" });

let pending = "";
for await (const piece of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  pending += piece;
  let eol: number;
  while ((eol = pending.indexOf("\n")) >= 0) {
    const command = pending.slice(0, eol).trim();
    pending = pending.slice(eol + 1);
    if (command === "servers") {
      const pools: Record<string, Array<{ id: string; failures: number; active: number; requests: number }>> = {};
      for (const [name, pool] of gw.current.pools)
        pools[name] = pool.servers.map((s) => ({ id: s.id, failures: s.failures, active: s.active, requests: s.requests }));
      out(pools);
    } else if (command === "peak") {
      sample();
      out({ peakMB: peak / 1048576, nowMB: Deno.memoryUsage().rss / 1048576 });
      peak = Deno.memoryUsage().rss;
    }
  }
}
await gw.stop(0);
Deno.exit(0);
