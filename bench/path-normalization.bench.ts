// Path normalisation micro-benchmark: the cost the gateway adds to every request before routing, for paths that
// are already normal (one scan, the same string back) and for paths that need the full reading. Plain
// performance.now loops, so it runs the same on Bun and Deno:
//   bun bench/path-normalization.bench.ts        deno run bench/path-normalization.bench.ts
import { normalizeTarget, type PathRules } from "../gateway/http/path-normalization.ts";

const ITERATIONS = 2_000_000;
const RULES: PathRules = { mergeSlashes: true, encodedSlashes: "refuse" };

/** ns per normalisation of `target`, after a warm-up; the results are counted so the work cannot be dropped. */
function measure(label: string, target: string): void {
  let sink = 0;
  const run = (count: number) => {
    for (let i = 0; i < count; i++) if (normalizeTarget(target, RULES) !== target) sink++;
  };
  const result = normalizeTarget(target, RULES);
  const outcome = typeof result !== "string" ? "(refused)" : result === target ? "(same string)" : "(rewritten)";
  run(200_000);
  const start = performance.now();
  run(ITERATIONS);
  const ns = ((performance.now() - start) * 1e6) / ITERATIONS;
  if (sink !== 0 && outcome === "(same string)") throw new Error(`${label}: the result changed between calls`);
  console.log(`${label.padEnd(52)} ${ns.toFixed(1).padStart(8)} ns/op  ${outcome}`);
}

measure("normal: /", "/");
measure("normal: /api/v1/items/42?page=2&sort=name", "/api/v1/items/42?page=2&sort=name");
measure("normal: 120-byte path with /.well-known", "/static/assets/2024/05/.well-known/app-bundle.3f9c2a7e.min.js/" + "x".repeat(60));
measure("abnormal: //api/./v1/../v1/%69tems/42?page=2", "//api/./v1/../v1/%69tems/42?page=2");
measure("abnormal: /files/caf%c3%a9/%7euser/a//b", "/files/caf%c3%a9/%7euser/a//b");
measure("refused: /a/%2e%2e/%2e%2e/etc/passwd", "/a/%2e%2e/%2e%2e/etc/passwd");
