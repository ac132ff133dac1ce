// A gateway in a process of its own, so a test can measure the gateway's memory apart from the clients and
// upstreams it runs itself. Started by `spawnGateway` with the config as JSON in argv; prints its URL, then
// answers each stdin line "peak" with the highest RSS (MB) seen since the last "peak" (sampled every 10 ms).
import { startGateway } from "../../gateway/gateway.ts";

if (import.meta.main) {
  const gw = await startGateway({ config: JSON.parse(process.argv[2]!) });
  let peak = 0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  setInterval(sample, 10);
  console.log(JSON.stringify({ url: gw.url }));
  for await (const line of console) {
    if (line.trim() !== "peak") continue;
    Bun.gc(true);
    sample();
    console.log(JSON.stringify({ peakMB: peak / 1024 / 1024, nowMB: process.memoryUsage().rss / 1024 / 1024 }));
    peak = process.memoryUsage().rss;
  }
}
