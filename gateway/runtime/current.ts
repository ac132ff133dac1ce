// Picks the adapter for the runtime we are running on. The only place that asks "Bun or Deno?".
import type { Runtime } from "./types.ts";

declare const Deno: unknown;

let current: Runtime | undefined;

export async function getRuntime(): Promise<Runtime> {
  if (current) return current;
  current = typeof Deno !== "undefined" ? (await import("./deno.ts")).denoRuntime : (await import("./bun.ts")).bunRuntime;
  return current;
}
