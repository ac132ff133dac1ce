// Sizes in config are a number of bytes or a string with a unit: "512", "16kb", "8mb", "1gb" (powers of 1024).

const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb?|mb?|gb?)?$/i;

/** Bytes for a size value, or null when it is not one. */
export function parseSize(value: unknown): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== "string") return null;
  const m = SIZE.exec(value.trim());
  if (!m) return null;
  return Math.floor(Number(m[1]) * UNIT_BYTES[(m[2] ?? "b").toLowerCase()]!);
}
