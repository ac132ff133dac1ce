// bench/RESULTS.md: one dated section per recorded run (`--record`), appended, never rewritten, so the
// file is the history of the figures. A section holds what the run ran on, its settings and every table
// the terminal showed, in Markdown.
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderMarkdown, type Table } from "./tables.ts";

export const RESULTS_PATH = fileURLToPath(new URL("./RESULTS.md", import.meta.url));

const PREAMBLE = `# Benchmark results

One section per \`bun bench/run.ts --record\` run, oldest first; \`bench/README.md\` says what the columns
mean. Only ratios within one section compare: absolute figures depend on the machine and on whatever
else it was doing.
`;

/** A titled part of a run's results: its tables, then lines ("- " items). */
export interface Block {
  title: string;
  tables: Table[];
  lines?: string[];
}

export interface Section {
  heading: string;
  /** Lines under the heading: what ran, on what, with which settings, and the note if any. */
  facts: string[];
  blocks: Block[];
}

export function renderSection(section: Section): string {
  const parts = [`## ${section.heading}`, section.facts.map((f) => `- ${f}`).join("\n")];
  for (const block of section.blocks) {
    parts.push(`**${block.title}**`);
    for (const table of block.tables) parts.push(renderMarkdown(table));
    if (block.lines?.length) parts.push(block.lines.join("\n"));
  }
  return `\n${parts.join("\n\n")}\n`;
}

/** Append `section` to RESULTS.md (created with its preamble when missing); returns the path. */
export function appendSection(section: Section): string {
  if (!existsSync(RESULTS_PATH)) writeFileSync(RESULTS_PATH, PREAMBLE);
  appendFileSync(RESULTS_PATH, renderSection(section));
  return RESULTS_PATH;
}
