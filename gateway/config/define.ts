// `export default defineConfig({...})` in sluice.config.ts: does nothing at run time, but gives the
// editor the config's types (completion, and typos flagged before the gateway ever starts).
import type { ConfigInput } from "./schema.ts";

export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}
