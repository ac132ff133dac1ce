// The end of set-up plugins: each one's teardown hook, run once, contained (a teardown that throws or hangs
// neither stops the others nor the gateway), in the reverse order of their setup, as resources are released
// in the reverse order they were taken.
import type { LoadedPlugin } from "./load.ts";

/** How long one plugin's teardown may take before the gateway goes on without it. */
const TEARDOWN_LIMIT_MS = 5_000;

export async function teardownPlugins(plugins: readonly LoadedPlugin[], log: (line: string) => void): Promise<void> {
  for (let i = plugins.length - 1; i >= 0; i--) {
    const plugin = plugins[i]!;
    const teardown = plugin.hooks.teardown;
    if (!teardown) continue;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), TEARDOWN_LIMIT_MS);
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(() => teardown()), limit]);
      if (outcome === "late") log(`plugin ${plugin.name}: teardown still running after ${TEARDOWN_LIMIT_MS / 1000}s; going on without it`);
    } catch (error) {
      log(`plugin ${plugin.name}: teardown failed: ${(error as Error)?.message ?? String(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
