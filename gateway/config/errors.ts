// Config problems as the lines users read: `path.to.key: what is wrong (got VALUE)`.
// zod's own messages ("Invalid input: expected number, received string") are written for developers;
// here every issue is reworded, unions are resolved to the branch the user most likely meant, and
// all problems are reported at once, in the order they appear in the file.
import type { z } from "zod";

/** A config that failed validation; `problems` holds one line per problem. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Stands for "no value at this path" (a missing key), printed as `(got nothing)`. */
export const NOTHING: unique symbol = Symbol("nothing");

/** Where in a config a problem is: keys and array indexes from the top. */
export type ProblemPath = readonly PropertyKey[];
type Path = ProblemPath;

// ── rendering ──────────────────────────────────────────────────────────────────────────────────────

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/** `routes[2].match.path`; keys that would read ambiguously (dots, spaces, "*") are bracketed. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (IDENTIFIER.test(String(seg))) out += out === "" ? String(seg) : `.${String(seg)}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out === "" ? "config" : out;
}

const MAX_VALUE = 60;

/** Compact JSON, cut to about 60 characters so one line stays one line. */
export function formatValue(value: unknown): string {
  if (value === NOTHING || value === undefined) return "nothing";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value); // JSON would say null
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v));
  } catch {
    text = undefined; // circular: fall through to String()
  }
  if (text === undefined) text = typeof value === "function" ? "a function" : String(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** The raw value at `path` in `root`, or NOTHING when a key along the way is absent. */
export function valueAt(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, seg)) return NOTHING;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

// ── did you mean ───────────────────────────────────────────────────────────────────────────────────

/** Edit distance counting a swap of two neighbours as one edit ("wieght" → "weight" is 1). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = distance(word.toLowerCase(), c.toLowerCase());
    // Allow roughly one typo per three letters, so short names do not "match" anything.
    if (dist < bestDistance && dist <= Math.max(1, Math.min(3, Math.floor(c.length / 3)))) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

/** ` — did you mean "x"?` or "" — the suffix of a problem line. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const hit = closest(word, candidates);
  return hit === undefined ? "" : ` — did you mean ${JSON.stringify(hit)}?`;
}

// ── collecting lines ───────────────────────────────────────────────────────────────────────────────

/**
 * Problem lines about one config, reported sorted in the order of the file and without duplicates.
 * `root` is the config the paths point into (the raw input, or the parsed config for reference checks).
 */
export class ProblemList {
  private readonly entries: { path: Path; line: string }[] = [];
  constructor(readonly root: unknown) {}

  /** Add `path: message (got VALUE)hint`; `got` defaults to the value at `path` in the root. */
  add(path: Path, message: string, hint = "", got: unknown = valueAt(this.root, path)): void {
    this.entries.push({ path, line: `${formatPath(path)}: ${message} (got ${formatValue(got)})${hint}` });
  }

  get size(): number {
    return this.entries.length;
  }

  /** The paths problems were reported at, in the order they were added. */
  paths(): Path[] {
    return this.entries.map((e) => e.path);
  }

  /** Take over the lines of `other` (already worded, values shown as `other` saw them) whose path `keep` accepts. */
  absorb(other: ProblemList, keep: (path: Path, line: string) => boolean = () => true): void {
    for (const e of other.entries) if (keep(e.path, e.line)) this.entries.push(e);
  }

  lines(): string[] {
    const sorted = [...this.entries].sort((a, b) => this.compare(a.path, b.path)); // stable: ties keep insertion order
    return [...new Set(sorted.map((e) => e.line))];
  }

  /** Path order: a parent before its children, array items by index, object keys as written in the file. */
  private compare(a: Path, b: Path): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x === y) continue;
      if (typeof x === "number" && typeof y === "number") return x - y;
      if (typeof x === "number") return -1;
      if (typeof y === "number") return 1;
      const parent = valueAt(this.root, a.slice(0, i));
      const keys = parent !== null && typeof parent === "object" ? Object.keys(parent) : [];
      const rank = (k: PropertyKey) => keys.indexOf(String(k)) + 1 || Infinity; // missing keys after present ones
      return rank(x) - rank(y) || String(x).localeCompare(String(y));
    }
    return a.length - b.length;
  }
}

// ── zod issues → lines ─────────────────────────────────────────────────────────────────────────────

// Loose views of zod internals: the error map sees the raw issue with `inst` (the schema that raised it).
type AnySchema = { _zod: { def: Record<string, any> } };
type RawIssue = Record<string, any> & { code: string; inst?: AnySchema };

/** "a string", "an array of strings", "a whole number or \"auto\"" — what a schema accepts, in words. */
export function describeSchema(schema: AnySchema | undefined): string {
  const def = schema?._zod?.def;
  switch (def?.type) {
    case "string":
      return "a string";
    case "number":
      return isInt(def) ? "a whole number" : "a number";
    case "int":
      return "a whole number";
    case "boolean":
      return "true or false";
    case "null":
      return "null";
    case "literal":
      return def.values.map((v: unknown) => JSON.stringify(v)).join(" or ");
    case "enum":
      return `one of: ${Object.values(def.entries as Record<string, unknown>).join(", ")}`;
    case "array":
      return `an array of ${plural(describeSchema(def.element))}`;
    case "object":
    case "record":
      return "an object";
    case "union":
      return describeUnion(def.options);
    case "pipe":
      return describeSchema(def.in);
    case "nullable":
      return `${describeSchema(def.innerType)} or null`;
    case "default":
    case "prefault":
    case "optional":
    case "readonly":
    case "catch":
      return describeSchema(def.innerType);
    default:
      return "a valid value";
  }
}

/** z.number().int() is a number schema with an integer format check. */
function isInt(def: Record<string, any>): boolean {
  return (def.checks ?? []).some((c: AnySchema) => c._zod.def.check === "number_format" && /int/.test(String(c._zod.def.format)));
}

function describeUnion(options: AnySchema[]): string {
  // "one or many" (a value or an array of them): "a string or an array of strings".
  if (options.length === 2 && options[1]!._zod.def.type === "array" && options[1]!._zod.def.element === options[0]) {
    const one = describeSchema(options[0]);
    return /^an? /.test(one) && !one.includes(" or ") ? `${one} or an array of ${plural(one)}` : `${one}, or an array of them`;
  }
  const literals = options.flatMap((o) => (o._zod.def.type === "literal" ? o._zod.def.values : [undefined]));
  // A union of literals reads best as a list: "one of: 301, 302, 307".
  if (literals.every((v: unknown) => v !== undefined)) return `one of: ${literals.join(", ")}`;
  // Branches of the same kind (two object shapes) read as one: "an object", not "an object or an object".
  const parts = [...new Set(options.map(describeSchema))];
  return parts.length <= 1 ? (parts[0] ?? "a valid value") : `${parts.slice(0, -1).join(", ")} or ${parts.at(-1)}`;
}

function plural(text: string): string {
  const m = /^an? ([\w ]+)$/.exec(text);
  return m && !text.includes(" or ") ? `${m[1]}s` : "values";
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "an object",
  array: "an array",
  record: "an object",
};

function sizeMessage(iss: RawIssue, atLeast: boolean): string {
  const n = atLeast ? iss.minimum : iss.maximum;
  const bound = atLeast ? (iss.inclusive === false ? "greater than" : "at least") : iss.inclusive === false ? "less than" : "at most";
  switch (iss.origin) {
    case "string":
      return atLeast && Number(n) === 1 ? "must not be empty" : `must be ${bound} ${n} characters long`;
    case "array":
    case "set":
      return atLeast && Number(n) === 1 ? "must not be empty" : `must have ${bound} ${n} items`;
    default:
      return `must be ${bound} ${n}`;
  }
}

/**
 * Knows, for each `unrecognized_keys` issue, the keys its object does accept (for "did you mean").
 * Keyed by the issue's `keys` array, which zod carries unchanged from the raw issue to the final one.
 */
const knownKeysOf = new WeakMap<readonly string[], string[]>();

/** A zod error map giving every issue a human message. Schema-written messages still win over it. */
export function humanMessage(iss: RawIssue): string | undefined {
  switch (iss.code) {
    case "invalid_type": {
      const what = iss.inst?._zod?.def?.type === iss.expected ? describeSchema(iss.inst) : (TYPE_WORDS[iss.expected] ?? `a ${iss.expected}`);
      return iss.input === undefined ? `required: expected ${what}` : `expected ${what}`;
    }
    case "too_small":
      return sizeMessage(iss, true);
    case "too_big":
      return sizeMessage(iss, false);
    case "invalid_value": {
      const values: unknown[] = iss.values ?? [];
      return values.length === 1 ? `expected ${JSON.stringify(values[0])}` : `expected one of: ${values.join(", ")}`;
    }
    case "invalid_union": {
      if (iss.note === "No matching discriminator") {
        const options = (iss.options ?? []).filter((o: unknown) => o !== undefined && o !== null);
        return `expected one of: ${options.join(", ")}`;
      }
      return `expected ${iss.inst?._zod?.def?.type === "union" ? describeSchema(iss.inst) : "a valid value"}`;
    }
    case "invalid_format": {
      switch (iss.format) {
        case "starts_with":
          return `must start with ${JSON.stringify(iss.prefix)}`;
        case "ends_with":
          return `must end with ${JSON.stringify(iss.suffix)}`;
        case "includes":
          return `must include ${JSON.stringify(iss.includes)}`;
        case "regex":
          return `must match ${iss.pattern}`;
        case "url":
          return "not a valid URL";
        default:
          return `not a valid ${iss.format}`;
      }
    }
    case "not_multiple_of":
      return `must be a multiple of ${iss.divisor}`;
    case "unrecognized_keys": {
      const shape = iss.inst?._zod?.def?.shape;
      if (shape && Array.isArray(iss.keys)) knownKeysOf.set(iss.keys, Object.keys(shape));
      return "unknown key";
    }
    case "invalid_key":
      return "not a valid key";
    case "custom":
      return "is not valid";
    default:
      return undefined;
  }
}

/** Does this union branch's failure show the value had the branch's type (so its issues are the useful ones)? */
function branchMatched(issues: readonly z.core.$ZodIssue[]): boolean {
  return !issues.some((i) => i.path.length === 0 && (i.code === "invalid_type" || i.code === "invalid_value" || i.code === "invalid_union"));
}

function collect(list: ProblemList, issues: readonly z.core.$ZodIssue[], base: Path): void {
  for (const iss of issues) {
    const path = [...base, ...iss.path];
    switch (iss.code) {
      case "invalid_union": {
        // A union fails as a whole; report the branch the value was evidently written for
        // (an object with a bad field), else say what the union takes: "expected a string or an array of strings".
        const candidates = iss.errors.filter(branchMatched).sort((a, b) => a.length - b.length);
        if (candidates.length > 0) collect(list, candidates[0]!, path);
        else list.add(path, iss.message);
        break;
      }
      case "unrecognized_keys": {
        const known = knownKeysOf.get(iss.keys) ?? [];
        for (const key of iss.keys) list.add([...path, key], "unknown key", didYouMean(key, known));
        break;
      }
      case "invalid_key": {
        // A record key failed (a pool name): the value to show is the key itself.
        const key = path.at(-1);
        for (const sub of iss.issues) list.add(path, sub.message, "", key);
        break;
      }
      case "invalid_value": {
        // A near miss of an allowed word ("lax" for "Lax") gets a suggestion.
        const got = valueAt(list.root, path);
        const words = iss.values.filter((v): v is string => typeof v === "string");
        list.add(path, iss.message, typeof got === "string" ? didYouMean(got, words) : "");
        break;
      }
      default:
        list.add(path, iss.message);
    }
  }
}

/** Problems for zod issues about `input` (the raw, unparsed config), each at its path. */
export function issueProblems(issues: readonly z.core.$ZodIssue[], input: unknown): ProblemList {
  const list = new ProblemList(input);
  collect(list, issues, []);
  return list;
}

/** Lines for zod issues about `input` (the raw, unparsed config). */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issueProblems(issues, input).lines();
}

/** Parse with human messages: the value, or every problem as a line. */
export function parseWithProblems<S extends z.ZodType>(schema: S, input: unknown): { ok: true; value: z.output<S> } | { ok: false; problems: string[] } {
  const result = schema.safeParse(input, { error: humanMessage as z.core.$ZodErrorMap });
  return result.success ? { ok: true, value: result.data } : { ok: false, problems: formatIssues(result.error.issues, input) };
}
