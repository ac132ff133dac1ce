// What the entries' option parsers share (options.ts, stream-options.ts, l4-options.ts): readers of one
// value, where a flag comes first, then its BENCH_* environment variable, then the default; and the flags
// of a run that can be recorded, which run.ts and stream-run.ts take alike.

/** An integer of at least `min`; `name` is the flag the error names. */
export function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer of at least ${min}, got "${text}"`);
  return n;
}

/** A comma list of names from `allowed`, in `allowed`'s order; `all` and the `aliases` expand. The error
 *  for an unknown name lists the aliases too unless `offerAliases` is false (the usage explains them apart). */
export function nameList<T extends string>(
  name: string,
  text: string,
  allowed: readonly T[],
  aliases: Record<string, readonly T[]> = {},
  offerAliases = true,
): T[] {
  const picked = new Set<T>();
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    if (part === "all") allowed.forEach((a) => picked.add(a));
    else if (aliases[part]) aliases[part]!.forEach((a) => picked.add(a));
    else if ((allowed as readonly string[]).includes(part)) picked.add(part as T);
    else throw new Error(`${name}: expected ${[...allowed, ...(offerAliases ? Object.keys(aliases) : [])].join(", ")} or all, got "${part}"`);
  }
  if (picked.size === 0) throw new Error(`${name}: nothing picked from "${text}"`);
  return allowed.filter((a) => picked.has(a));
}

/** An on/off flag, else its environment variable ("1" or "true" is on), else undefined (the default's turn). */
export function flag(value: boolean | undefined, env: string | undefined): boolean | undefined {
  if (value !== undefined) return value;
  if (env === undefined || env === "") return undefined;
  return env === "1" || env === "true";
}

/** The warm-up before round 1 is on unless --no-warmup, or BENCH_WARMUP=0 (the variable run.ts reads as
 *  its warm-up duration, where 0 also turns it off). */
export function warmupOn(noWarmup: boolean | undefined, env: Record<string, string | undefined>): boolean {
  return !(noWarmup ?? env.BENCH_WARMUP === "0");
}

/** The settings of a run that can be recorded in RESULTS.md. */
export interface RecordedRunOptions {
  /** Proxies on one core, the load and the harness on another (pinning.ts). */
  pinned: boolean;
  /** Append the run's tables to bench/RESULTS.md. */
  record: boolean;
  /** A line to put under the recorded section's heading. */
  note: string | undefined;
  /** Keep the temp dir (configs, logs) for inspection instead of deleting it. */
  keepTemp: boolean;
}

/** parseArgs' spec of those flags, and of --help. */
export const RECORDED_RUN_FLAGS = {
  pinned: { type: "boolean" },
  unpinned: { type: "boolean" },
  record: { type: "boolean" },
  note: { type: "string" },
  "keep-temp": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export function recordedRunOptions(
  values: { pinned?: boolean; unpinned?: boolean; record?: boolean; note?: string; "keep-temp"?: boolean },
  env: Record<string, string | undefined>,
): RecordedRunOptions {
  if (values.pinned && values.unpinned) throw new Error("--pinned and --unpinned: pick one");
  return {
    pinned: values.unpinned ? false : (flag(values.pinned, env.BENCH_PINNED) ?? true),
    record: flag(values.record, env.BENCH_RECORD) ?? false,
    note: values.note ?? (env.BENCH_NOTE || undefined),
    keepTemp: flag(values["keep-temp"], env.BENCH_KEEP_TEMP) ?? false,
  };
}
