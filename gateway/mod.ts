// The public API of Sluice, for config files and plugin authors: the package's entry point, so
// `import { defineConfig, definePlugin } from "sluice"` lands here (package.json "exports"). Kept small on
// purpose: what is exported here is a promise.
export { defineConfig } from "./config/define.ts";
export type { Config, ConfigInput } from "./config/schema.ts";
export { definePlugin } from "./plugin/types.ts";
export type {
  GatewayAnswer,
  GatewayEnv,
  GatewayRequest,
  LogEntry,
  OptionsSchema,
  Plugin,
  PluginHooks,
  PluginSetupContext,
  ProxyContext,
  ProxyError,
  Termination,
} from "./plugin/types.ts";
/** Durations as the config writes them (`250`, `"500ms"`, `"2s"`, `"1m"`, `"1h"`, `"1d"`) → milliseconds, or null, and why a value is not one: for plugin options. */
export { durationProblem, parseDuration } from "./config/duration.ts";
/** Address ranges ("10.0.0.0/8", "fd00::/8", "192.0.2.7"): parseCidr checks one, AddressSet answers whether a client address is in a list. */
export { AddressSet, parseCidr } from "./config/cidr.ts";
/** The client behind trusted proxies: the peer, or the right-most X-Forwarded-For hop that is not a trusted proxy. */
export { forwardedClient } from "./proxy/forwarded-client.ts";
