// The access log: one line per request, as JSON (the default) or in nginx's `combined` format, on stdout or
// appended to a file. Lines are gathered and handed to the writer in batches, so a busy gateway makes one write
// per tick instead of one per request; the writer works off the event loop, and what waits for it is bounded
// (`accessLog.buffer`): beyond that, lines are dropped and counted (sluice_access_log_dropped_total) rather than
// held in memory or waited for. SIGUSR1 reopens the file (after logrotate moved it); a reload may change the
// format, the file and the bound.
import { resolve } from "node:path";
import type { AccessLogSettings, Config } from "./config/schema.ts";
import type { LogEntry } from "./plugin/types.ts";
import type { LogFile } from "./runtime/types.ts";
import { LogWriter } from "./observability/log-writer.ts";
import { combinedLine } from "./observability/combined-format.ts";
import type { FigureSet } from "./observability/exposition.ts";

/** How often the lines gathered are handed to the writer. */
const BATCH_MS = 50;
/** How long stopping waits for the last lines to be written (a stuck disk or a pipe nobody reads must not hold it). */
const CLOSE_WAIT_MS = 2_000;

/** What `accessLog: true` means. */
const DEFAULTS: AccessLogSettings = { format: "json", buffer: 4 * 1024 * 1024 };

/** A destination opened for a config, not yet in use (see `prepare`). */
export interface PreparedLog {
  readonly settings: AccessLogSettings | undefined;
  /** The file, when the destination changes (undefined: keep the one in use). */
  readonly file: LogFile | undefined;
  readonly path: string | undefined;
  /** Close the file opened for a config that will not be used after all (a refused reload). */
  discard(): void;
}

export class AccessLog {
  /** Whether lines are written: false costs nothing per request (no entry is made unless a plugin reads it). */
  enabled = false;
  private settings: AccessLogSettings = DEFAULTS;
  /** The file written to; undefined for stdout. */
  private path: string | undefined;
  private writer: LogWriter | undefined;
  private batch: string[] = [];
  private batchBytes = 0;
  private scheduled = false;
  /** Lines dropped because more was waiting for the disk than `buffer` allows. */
  private overflowed = 0;

  constructor(
    private readonly open: (path?: string) => Promise<LogFile>,
    private readonly report: (line: string) => void = (line) => console.error(line),
  ) {}

  /**
   * Open what a config's `accessLog` names, without using it yet: a file that cannot be opened is a problem of
   * that config (start-up fails, a reload is refused) while the running log goes on.
   */
  async prepare(setting: Config["accessLog"], configDir: string): Promise<PreparedLog> {
    const settings = setting === false ? undefined : setting === true ? DEFAULTS : setting;
    const path = settings?.path === undefined ? undefined : resolve(configDir, settings.path);
    const changes = settings !== undefined && (this.writer === undefined || path !== this.path);
    let file: LogFile | undefined;
    if (changes) {
      try {
        file = await this.open(path);
      } catch (error) {
        throw new Error(`accessLog.path: cannot open ${path} for appending: ${(error as Error)?.message ?? error}`);
      }
    }
    return { settings, file, path, discard: () => void file?.close().catch(() => {}) };
  }

  /** Use a prepared config: from the next line on, its format, file and bound. */
  apply(prepared: PreparedLog): void {
    this.flush();
    if (prepared.settings === undefined) {
      this.enabled = false;
      return;
    }
    this.settings = prepared.settings;
    this.enabled = true;
    if (prepared.file) {
      this.path = prepared.path;
      if (this.writer) this.writer.replace(prepared.file);
      else this.writer = new LogWriter(prepared.file, this.report);
    }
  }

  /** `prepare` and `apply` at once (start-up). */
  async configure(setting: Config["accessLog"], configDir: string): Promise<void> {
    this.apply(await this.prepare(setting, configDir));
  }

  add(entry: LogEntry): void {
    if (!this.enabled) return;
    const line = this.settings.format === "combined" ? combinedLine(entry) : JSON.stringify(entry);
    if (this.batchBytes + (this.writer?.held ?? 0) + line.length + 1 > this.settings.buffer) {
      this.overflowed++;
      return;
    }
    this.batch.push(line);
    this.batchBytes += line.length + 1;
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), BATCH_MS);
    }
  }

  /** Hand the lines gathered to the writer. */
  flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const text = this.batch.join("\n") + "\n";
    this.batch = [];
    this.batchBytes = 0;
    this.writer?.write(text);
  }

  /**
   * SIGUSR1: open the file again by its name (logrotate moved it away, or deleted it) and write there from now
   * on. Standard output has nothing to reopen. A file that cannot be opened leaves the old one in use.
   */
  async reopen(): Promise<void> {
    if (this.path === undefined || !this.writer) return;
    this.flush();
    try {
      this.writer.replace(await this.open(this.path));
    } catch (error) {
      this.report(`sluice: access log: cannot reopen ${this.path} (${(error as Error)?.message ?? error}): still writing to the file open before`);
    }
  }

  /** Write what is left and close the file (stop), waiting CLOSE_WAIT_MS at most. */
  async close(): Promise<void> {
    this.flush();
    if (!this.writer) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([this.writer.close(), late]);
    clearTimeout(timer);
  }

  /** Lines lost: more waiting than `buffer` allows, or a write that failed. */
  get dropped(): number {
    return this.overflowed + (this.writer?.failedLines ?? 0);
  }

  collect(into: FigureSet): void {
    into.add("sluice_access_log_dropped_total", [], this.dropped);
  }
}
