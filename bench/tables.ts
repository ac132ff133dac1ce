// What every results table of the benchmarks is made of: a header and rows of cells, rendered as plain
// text for the terminal or as Markdown for RESULTS.md, and the figures in its cells (the median over
// rounds, numbers with thousands separators, ratios).

export interface Table {
  header: string[];
  rows: string[][];
  /** Leading columns that hold words, aligned left (the rest are figures, aligned right); default 1. */
  left?: number;
}

export function renderText(table: Table): string {
  const all = [table.header, ...table.rows];
  const widths = table.header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const left = table.left ?? 1;
  return all.map((r) => r.map((cell, i) => (i < left ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")).join("\n");
}

export function renderMarkdown(table: Table): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  const left = table.left ?? 1;
  return [line(table.header), `|${table.header.map((_, i) => (i < left ? "---" : "---:")).join("|")}|`, ...table.rows.map(line)].join("\n");
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "12,345" or "1,234.5" with `digits` decimals; "n/a" for NaN or ±Infinity. */
export const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";

/** A ratio: "1.23×", or "n/a". */
export const times = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "n/a");
