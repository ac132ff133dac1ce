// Durations in config are a number of milliseconds or a string of one or more numbers with a unit, largest
// unit first: "500ms", "2s", "1m30s", "1h30m", "2m0.5s", "1d". Parsed once at load; the rest of the gateway
// only ever sees milliseconds.

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/**
 * The text of a duration string, as a regular expression source. It is also the `pattern` of durations in the
 * JSON Schema (json-schema.ts), so editors accept exactly what the gateway accepts: each unit at most once,
 * largest first, and at least one part. `m(?!s)` keeps "5ms" from reading as 5 minutes and a stray "s".
 */
export const DURATION_PATTERN =
  "^\\s*(?=\\d)(\\d+(?:\\.\\d+)?\\s*d\\s*)?(\\d+(?:\\.\\d+)?\\s*h\\s*)?(\\d+(?:\\.\\d+)?\\s*m(?!s)\\s*)?(\\d+(?:\\.\\d+)?\\s*s\\s*)?(\\d+(?:\\.\\d+)?\\s*ms\\s*)?$";
const DURATION = new RegExp(DURATION_PATTERN);
const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g;

/** Why `value` is not a duration, as the config problem line says it. */
export function durationProblem(value: unknown): string {
  // Parts that each read fine but come in the wrong order or twice ("30s1m", "1m1m") get their own hint.
  if (typeof value === "string" && /^\s*(\d+(?:\.\d+)?\s*(ms|s|m|h|d)\s*){2,}$/.test(value)) {
    return 'not a duration: write each unit once, largest first, like "1h30m" or "2m0.5s"';
  }
  return 'not a duration: use milliseconds or a number with ms, s, m, h or d, like "2s"';
}

/** Milliseconds for a duration value, or null when it is not one. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== "string" || !DURATION.test(value)) return null;
  let ms = 0;
  for (const [, amount, unit] of value.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit!]!;
  return Math.round(ms);
}
