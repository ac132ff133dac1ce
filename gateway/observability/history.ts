// The dashboard's memory: the last 15 minutes of the gateway's figures, kept in the process (no outside
// service). One object owns it: a timer samples every 5 seconds into rings of 180 points, the admin's
// GET /history hands it out, and the dashboard draws its charts from it. Per sample it reads what /metrics
// reads — the HTTP counters summed over every `--workers` process, the TCP/UDP listeners' counters, every
// server's state — so nothing runs per request, and memory is fixed by the number of points and a cap on
// the number of series.
import type { Figures } from "./exposition.ts";
import { Ring } from "./history-ring.ts";
import { HTTP_FIELDS, HttpHistory, TOTAL, type HttpField } from "./history-http.ts";
import { L4History, type L4Stats, type TcpField, type UdpField } from "./history-l4.ts";
import { StateTimeline, type ServerSighting, type ServerTimeline } from "./history-states.ts";

export interface HistorySources {
  /** The HTTP figures /metrics sums (this process's and those of every `--workers` process that answered), and how many processes answered. */
  figures(): Promise<{ figures: Figures; processes: number }>;
  /** Every upstream server's state now, as /status shows it. */
  servers(): Iterable<ServerSighting>;
  /** The TCP and UDP listeners' figures now. */
  l4(): L4Stats;
  /** Where a failed sample is reported. */
  log(line: string): void;
}

export interface HistoryOptions {
  /** Time between samples (ms). */
  intervalMs: number;
  /** Samples kept: the window is intervalMs × points. */
  points: number;
  /** Series kept at most per kind (routes, pools, TCP and UDP listeners) and servers in the timeline. */
  maxSeries: number;
}

/** 15 minutes at one sample per 5 s: fine enough to see a spike, and 180 points draw well in a chart. */
const DEFAULT_HISTORY: HistoryOptions = { intervalMs: 5_000, points: 180, maxSeries: 200 };

type Points<F extends string> = Record<F, Array<number | null>>;

/** GET /history: every series as arrays aligned with `times` (null where there is no value). */
export interface HistoryDocument {
  intervalMs: number;
  windowMs: number;
  /** When the document was made (ms since the epoch): the right edge of the charts. */
  now: number;
  /** When each point was sampled: the end of the interval it measures. */
  times: number[];
  /**
   * requests: per second; errors5xx, errors4xx: % of the answers; p50, p95, p99: ms, estimated from the duration
   * histogram's buckets. The gateway as a whole, per route ("" for requests no route took) and per pool.
   */
  http: {
    total: Points<HttpField>;
    routes: Array<{ name: string; points: Points<HttpField> }>;
    pools: Array<{ name: string; points: Points<HttpField> }>;
  };
  /** connections: new per second; open: at the sample; bytesIn, bytesOut: per second. */
  tcp: Array<{ listener: string; points: Points<TcpField> }>;
  /** received, forwarded, replied, dropped: datagrams per second; bytesIn, bytesOut: per second; sessions: open. */
  udp: Array<{ listener: string; points: Points<UdpField> }>;
  /** Each server's states over the window. */
  servers: ServerTimeline[];
}

export class History {
  readonly options: HistoryOptions;
  private readonly times: Ring;
  private readonly http: HttpHistory;
  private readonly l4: L4History;
  private readonly states: StateTimeline;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** A sample waiting for the workers' figures: the next tick does not start another one. */
  private sampling = false;
  /** The last sample: when (performance.now(), which no clock change moves), and how many processes' figures it summed. */
  private last: { at: number; processes: number } | undefined;
  private failed = false;

  constructor(
    private readonly sources: HistorySources,
    options: Partial<HistoryOptions> = {},
  ) {
    this.options = { ...DEFAULT_HISTORY, ...options };
    const { points, maxSeries, intervalMs } = this.options;
    this.times = new Ring(points);
    this.http = new HttpHistory(points, maxSeries);
    this.l4 = new L4History(points, maxSeries);
    this.states = new StateTimeline(points * intervalMs, maxSeries, 2 * points);
  }

  /** Take the first sample (where the counters start from) and one every interval; the timer keeps no process alive. */
  start(): this {
    if (this.timer !== undefined) return this;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.options.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sample: the growth of every counter since the last one, and every server's state. */
  async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const { figures, processes } = await this.sources.figures();
      const now = Date.now();
      const at = performance.now();
      const l4 = this.sources.l4();
      this.states.observe(this.sources.servers(), now);
      const last = this.last;
      this.last = { at, processes };
      if (!last) {
        this.http.rebase(figures);
        this.l4.rebase(l4);
        return;
      }
      const seconds = Math.max(at - last.at, 1) / 1000;
      this.times.push(now);
      // A worker that joined or did not answer changes the sums: that interval cannot be measured.
      if (processes !== last.processes) this.http.gap(figures);
      else this.http.sample(figures, seconds);
      this.l4.sample(l4, seconds);
      this.failed = false;
    } catch (error) {
      if (!this.failed) this.sources.log(`sluice: dashboard history: a sample failed: ${(error as Error)?.message ?? error}`);
      this.failed = true;
    } finally {
      this.sampling = false;
    }
  }

  /** The whole window, with the servers' states as they are now. */
  document(): HistoryDocument {
    const now = Date.now();
    this.states.observe(this.sources.servers(), now);
    const total = this.http.total.list().find((s) => s.key === TOTAL)?.points ?? emptyPoints(HTTP_FIELDS, this.times.length);
    return {
      intervalMs: this.options.intervalMs,
      windowMs: this.options.intervalMs * this.options.points,
      now,
      times: this.times.toArray() as number[],
      http: {
        total,
        routes: this.http.routes.list().map(({ key, points }) => ({ name: key, points })),
        pools: this.http.pools.list().map(({ key, points }) => ({ name: key, points })),
      },
      tcp: this.l4.tcp.list().map(({ key, points }) => ({ listener: key, points })),
      udp: this.l4.udp.list().map(({ key, points }) => ({ listener: key, points })),
      servers: this.states.timelines(now),
    };
  }
}

function emptyPoints<F extends string>(fields: readonly F[], length: number): Points<F> {
  return Object.fromEntries(fields.map((f) => [f, new Array(length).fill(null)])) as Points<F>;
}
