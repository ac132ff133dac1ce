// The whole validation of a config, the same for a file, an object and a reload: the schema, then every
// check across sections — references, route patterns, and keys of features this version does not have.
// All problems come back together, in the order of the file. When the schema finds problems, the checks
// across sections still run, on what did parse (salvage.ts), so one run tells everything. A valid config
// comes back with its names in canonical form (canonical.ts).
import { configSchema, type Config } from "./schema.ts";
import { ConfigError, ProblemList, formatPath, humanMessage, issueProblems, type ProblemPath } from "./errors.ts";
import { checkReferences } from "./references.ts";
import { withCanonicalNames, type CanonicalBalancer } from "./canonical.ts";
import { checkUnsupported } from "./unsupported.ts";
import { salvageConfig } from "./salvage.ts";
import { checkRoutes } from "../routing/table.ts";
import type { z } from "zod";

export interface ConfigInspection {
  /** The validated config; only when there is no problem. */
  config?: Config;
  /** One line per problem, `path.to.key: what is wrong (got VALUE)`; empty for a valid config. */
  problems: string[];
  /** The config when valid, else what parsed of it (placeholders elsewhere): plugins and certificates can be checked on it. */
  usable: Config;
}

/** Every problem of `input`, never throwing. `knownBalancers` and `canonicalBalancer` as for validateConfig. */
export function inspectConfig(input: unknown, knownBalancers: readonly string[], canonicalBalancer?: CanonicalBalancer): ConfigInspection {
  const parsed = configSchema.safeParse(input, { error: humanMessage as z.core.$ZodErrorMap });
  const shape = parsed.success ? new ProblemList(input) : issueProblems(parsed.error.issues, input);
  const { config, unusable } = parsed.success ? { config: parsed.data, unusable: [] } : salvageConfig(input);

  // What the schema already said about a key is enough; what is said about a placeholder is not about the file;
  // and with no pools section to go by (not an object), no pool reference can be judged.
  const covered = [...unusable, ...shape.paths()];
  const noPools = unusable.some((u) => samePath(u, ["pools"]));
  const problems = new ProblemList(input);
  problems.absorb(shape);
  // An address clash names the other address's path: one standing in for a broken value is no clash.
  const standIns = unusable.map((u) => `used by ${formatPath(u)} (got`);
  problems.absorb(
    crossSectionProblems(config, knownBalancers),
    (path, line) => !covered.some((c) => within(path, c)) && !(noPools && namesPool(path)) && !standIns.some((s) => line.includes(s)),
  );
  const lines = problems.lines();
  for (const line of checkUnsupported(config)) if (!lines.includes(line)) lines.push(line);

  if (lines.length > 0) return { problems: lines, usable: config };
  const valid = canonicalBalancer ? withCanonicalNames(config, canonicalBalancer) : config;
  return { config: valid, problems: [], usable: valid };
}

/**
 * `knownBalancers` are the names `balance` accepts; `canonicalBalancer` says which algorithm each stands for
 * (the balancing registry's; without it, names stay as written). Throws a ConfigError holding every problem.
 */
export function validateConfig(input: unknown, knownBalancers: readonly string[], canonicalBalancer?: CanonicalBalancer): Config {
  const result = inspectConfig(input, knownBalancers, canonicalBalancer);
  if (!result.config) throw new ConfigError(result.problems);
  return result.config;
}

/** References and route patterns; route patterns compile exactly as the router will compile them. */
function crossSectionProblems(config: Config, knownBalancers: readonly string[]): ProblemList {
  const problems = checkReferences(config, knownBalancers);
  const referenced = problems.paths();
  for (const p of checkRoutes(config.routes)) {
    const path = ["routes", ...p.path];
    // Skip what the references already said about the same key.
    if (!referenced.some((r) => samePath(r, path))) problems.add(path, p.message, "", p.value);
  }
  return problems;
}

/** `routes[0].pool`, `tcp[1].pool`, `udp[0].pool`, `tcp[0].sni.NAME`: a key whose value is a pool's name. */
function namesPool(path: ProblemPath): boolean {
  return path.at(-1) === "pool" || (path[0] === "tcp" && path[2] === "sni");
}

function within(path: ProblemPath, ancestor: ProblemPath): boolean {
  return ancestor.length <= path.length && ancestor.every((seg, i) => seg === path[i]);
}

function samePath(a: ProblemPath, b: ProblemPath): boolean {
  return a.length === b.length && within(a, b);
}
