// Config keys the contract names whose feature this version does not have yet. They are refused with a
// clear line rather than accepted and ignored: a feature that silently never runs is worse than none.
import type { Config } from "./schema.ts";
import { ProblemList } from "./errors.ts";

const NOT_YET = "not supported in this version of Sluice";

export function checkUnsupported(config: Config): string[] {
  const problems = new ProblemList(config);
  for (const [name, pool] of Object.entries(config.pools)) {
    if (pool.mode === "http" && pool.cache) problems.add(["pools", name, "cache"], `${NOT_YET}: response caching`);
  }
  config.listen.forEach((entry, i) => {});
  return problems.lines();
}
