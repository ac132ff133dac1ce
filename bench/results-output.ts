// An entry's results at the end of a run: its facts (what ran, on what) and blocks of tables and lines, as
// plain text on stdout; with --record the same as a dated section of bench/RESULTS.md (results-file.ts).
import { appendSection, type Block } from "./results-file.ts";
import { renderText } from "./tables.ts";

/** The facts, then each block (its title, tables and lines), then the legend. */
export function printResults(facts: string[], blocks: Block[], legend: string): void {
  console.log("");
  console.log(facts.join("\n"));
  for (const block of blocks) {
    console.log("");
    console.log(block.title);
    for (const table of block.tables) console.log(`${renderText(table)}\n`);
    for (const line of block.lines ?? []) console.log(`  ${line.replace(/^- /, "")}`);
  }
  console.log("");
  console.log(legend);
}

/** Prints how long the run took since `startedAt` (a performance.now()); returns the seconds. */
export function printRunTime(startedAt: number): number {
  const seconds = (performance.now() - startedAt) / 1000;
  console.log(`\nRun took ${seconds.toFixed(0)} s.`);
  return seconds;
}

/** Appends a section headed by the current UTC minute and `what`, with the note (if any) over the facts;
 *  says where on stderr. */
export function recordResults(what: string, note: string | undefined, facts: string[], blocks: Block[]): void {
  const path = appendSection({
    heading: `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: ${what}`,
    facts: [...(note ? [note] : []), ...facts],
    blocks,
  });
  console.error(`bench: appended to ${path}`);
}
