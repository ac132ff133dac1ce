// What every benchmark run shares: a temp dir for generated configs and logs, and a cleanup that stops
// every child (also on Ctrl-C, SIGTERM or an error) and removes the temp dir, run exactly once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killAllNow, stopAll } from "./procs.ts";

export interface BenchLifecycle {
  /** Make the run's temp dir; with `keep`, it is left in place at the end and its path printed. */
  makeTemp(prefix: string, keep: boolean): string;
  /** Run `main` and exit with its code, cleaning up on every path. `stopLoad` kills a running load generator first. */
  run(main: () => Promise<number>, stopLoad: () => void | Promise<void>): Promise<never>;
}

export function benchLifecycle(): BenchLifecycle {
  let tempDir: string | undefined;
  let keepTemp = false;
  let cleaning: Promise<void> | undefined;
  let interrupted = false;

  const removeTemp = () => {
    if (!tempDir) return;
    if (keepTemp) console.error(`bench: kept ${tempDir}`);
    else rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  };

  return {
    makeTemp(prefix, keep) {
      keepTemp = keep;
      tempDir = mkdtempSync(join(tmpdir(), prefix));
      return tempDir;
    },
    async run(main, stopLoad) {
      const cleanup = () =>
        (cleaning ??= (async () => {
          await stopLoad();
          await stopAll();
          removeTemp();
        })());
      process.on("SIGINT", () => {
        interrupted = true;
        console.error("bench: interrupted, stopping children");
        void cleanup().then(() => process.exit(130));
      });
      process.on("SIGTERM", () => {
        interrupted = true;
        void cleanup().then(() => process.exit(143));
      });
      // Last resort if something exits without going through cleanup (it cannot wait here).
      process.on("exit", () => {
        killAllNow();
        removeTemp();
      });
      let code = 1;
      try {
        code = await main();
      } catch (error) {
        // After SIGINT the killed load generator fails too: that is not worth a message.
        if (!interrupted) console.error(`bench: ${(error as Error).message ?? error}`);
        code = 1;
      } finally {
        await cleanup();
      }
      process.exit(code);
    },
  };
}
