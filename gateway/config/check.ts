// `sluice check --config PATH`: the same loading as startup, reported as text instead of thrown.
import { ConfigError } from "./errors.ts";
import { loadConfig } from "./load.ts";

/** `lines` is exactly what to print: ["ok"] for a good config, else one line per problem (exit 1). */
export async function checkConfig(path: string, knownBalancers: string[]): Promise<{ ok: boolean; lines: string[] }> {
  try {
    await loadConfig(path, { knownBalancers });
    return { ok: true, lines: ["ok"] };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, lines: e.problems };
    return { ok: false, lines: [`${path}: ${(e as Error)?.message ?? String(e)}`] }; // a bug, but still one line
  }
}
