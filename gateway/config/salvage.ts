// What did parse of a config that failed the schema. A broken config gets every problem in one run: the checks
// across sections (references, route patterns, address clashes) and the plugins run on the parts that parsed,
// so a typo in one pool does not hide a route pointing at a pool that does not exist.
//
// Each part (a pool, a route, a listener, a top-level key) is parsed on its own. One that fails is parsed again
// without the keys its problems were in (a route with a bad `match` still has its `pool` checked). One that still
// fails is stood in for by a placeholder that raises no problem of its own, and its path is listed as unusable:
// whatever the checks say at that path is about the placeholder, not about the file, and is not reported.
import { configSchema, type Config } from "./schema.ts";
import type { ProblemPath } from "./errors.ts";

export interface SalvagedConfig {
  /** A config of the parts that parsed, placeholders and defaults elsewhere. */
  config: Config;
  /** Where placeholders or defaults stand in for parts that did not parse. */
  unusable: ProblemPath[];
}

type Field = keyof typeof configSchema.shape;
type Parse = (
  raw: unknown,
) =>
  | { success: true; data: unknown }
  | { success: false; error: { issues: readonly { code: string; path: readonly PropertyKey[]; keys?: readonly string[] }[] } };

const fields = configSchema.shape;

// Stand-ins for parts that did not parse: valid, with nothing that a check across sections could object to.

/** A pool of the mode it was written with, so references to it are judged as they would be. */
function placeholderPool(mode: "http" | "tcp"): unknown {
  const pool = mode === "tcp" ? { mode, servers: [{ address: "placeholder.invalid:1" }] } : { servers: [{ url: "http://placeholder.invalid" }] };
  return fields.pools.parse({ p: pool }).p;
}

/** An item of each list whose items are salvaged one by one. Port 0 never clashes with another address. */
const placeholderItems: Partial<Record<Field, () => unknown>> = {
  listen: () => fields.listen.parse(":0")[0],
  routes: () => fields.routes.parse([{ redirect: { to: "/" } }])[0],
  tcp: () => fields.tcp.parse([{ listen: ":0", pool: "placeholder" }])[0],
  udp: () => fields.udp.parse([{ listen: ":0", pool: "placeholder" }])[0],
};

export function salvageConfig(input: unknown): SalvagedConfig {
  const unusable: ProblemPath[] = [];
  const defaults = configSchema.parse({});
  if (!isPlainObject(input)) return { config: defaults, unusable: [[]] };

  const out: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(fields) as Field[]) {
    const raw = input[key];
    if (raw === undefined) continue;
    const field: { safeParse: Parse } = fields[key];

    if (key === "pools" && isPlainObject(raw)) {
      const pools: Record<string, unknown> = {};
      for (const [name, pool] of Object.entries(raw)) {
        const parsed = salvagePart((r) => field.safeParse({ [name]: r }), pool, 1);
        if (parsed) {
          pools[name] = (parsed.value as Record<string, unknown>)[name];
          for (const key of parsed.left) unusable.push(["pools", name, key]);
        } else {
          // Kept under its name, so a route pointing at it does not read as pointing at nothing.
          pools[name] = placeholderPool(isPlainObject(pool) && pool.mode === "tcp" ? "tcp" : "http");
          unusable.push(["pools", name]);
        }
      }
      out.pools = pools;
      continue;
    }

    const placeholder = placeholderItems[key];
    if (placeholder && Array.isArray(raw)) {
      // Item by item, so each keeps its index: problem paths name items as the file has them.
      out[key] = raw.map((item, i) => {
        const parsed = salvagePart((r) => field.safeParse([r]), item, 1);
        if (parsed) {
          for (const left of parsed.left) unusable.push([key, i, left]);
          return (parsed.value as unknown[])[0];
        }
        unusable.push([key, i]);
        return placeholder();
      });
      continue;
    }

    const parsed = salvagePart(field.safeParse.bind(field), raw, 0);
    if (parsed) {
      out[key] = parsed.value;
      for (const left of parsed.left) unusable.push([key, left]);
    } else {
      unusable.push([key]);
      // No admin listener rather than the default one: a default address could clash with something written.
      out[key] = key === "admin" ? false : key === "listen" ? [placeholderItems.listen!()] : (fields[key] as { parse(v: unknown): unknown }).parse(undefined);
    }
  }
  return { config: out as Config, unusable };
}

/**
 * `raw` parsed; failing that, parsed again without the keys its problems were in (`left`: those keys hold their
 * defaults now, not what the file says). `depth` is how many path segments of an issue come before the keys of
 * `raw` (the wrapping the parse adds). Undefined when neither parsed.
 */
function salvagePart(parse: Parse, raw: unknown, depth: number): { value: unknown; left: string[] } | undefined {
  const first = parse(raw);
  if (first.success) return { value: first.data, left: [] };
  if (!isPlainObject(raw)) return undefined;
  const broken = new Set<string>();
  for (const issue of first.error.issues) {
    const key = issue.path[depth];
    if (issue.path.length === depth && issue.code === "unrecognized_keys") issue.keys?.forEach((k) => broken.add(k));
    else if (issue.path.length > depth && typeof key === "string") broken.add(key);
    else return undefined; // a problem with the part as a whole: no key to leave out
  }
  const second = parse(Object.fromEntries(Object.entries(raw).filter(([k]) => !broken.has(k))));
  return second.success ? { value: second.data, left: [...broken] } : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
