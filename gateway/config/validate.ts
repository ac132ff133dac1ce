// The whole validation of a config, the same for a file, an object and a reload: the schema first,
// then (once the shape holds) every check across sections — references, route patterns, and keys of
// features this version does not have. All problems come back together. A valid config comes back with
// its names in canonical form (canonical.ts).
import { configSchema, type Config } from "./schema.ts";
import { ConfigError, formatPath, formatValue, parseWithProblems } from "./errors.ts";
import { checkReferences } from "./references.ts";
import { withCanonicalNames, type CanonicalBalancer } from "./canonical.ts";
import { checkUnsupported } from "./unsupported.ts";
import { checkRoutes } from "../routing/table.ts";

/**
 * `knownBalancers` are the names `balance` accepts; `canonicalBalancer` says which algorithm each stands for
 * (the balancing registry's; without it, names stay as written).
 */
export function validateConfig(input: unknown, knownBalancers: readonly string[], canonicalBalancer?: CanonicalBalancer): Config {
  const parsed = parseWithProblems(configSchema, input);
  if (!parsed.ok) throw new ConfigError(parsed.problems);
  const config = parsed.value;
  const problems = checkReferences(config, knownBalancers);
  // Route patterns compile exactly as the router will compile them; skip what the references already said.
  for (const p of checkRoutes(config.routes)) {
    const path = formatPath(["routes", ...p.path]);
    if (!problems.some((line) => line.startsWith(`${path}:`))) problems.push(`${path}: ${p.message} (got ${formatValue(p.value)})`);
  }
  problems.push(...checkUnsupported(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return canonicalBalancer ? withCanonicalNames(config, canonicalBalancer) : config;
}
