// The TCP and UDP listeners' side of the dashboard's history, from the figures /status and /metrics show of
// them (the primary's listeners): per listener, new connections, bytes and datagrams per second, and the
// connections or sessions open at each sample.
import type { TcpListenerStats } from "../l4/tcp-listeners.ts";
import type { UdpListenerStats } from "../l4/udp-listener.ts";
import { SeriesSet } from "./history-series.ts";

/** connections: new per second; open: at the sample; bytesIn (from clients), bytesOut (to clients): per second. */
export const TCP_FIELDS = ["connections", "open", "bytesIn", "bytesOut"] as const;
export type TcpField = (typeof TCP_FIELDS)[number];
/** Datagrams per second by direction and dropped; bytesIn (from clients), bytesOut (to clients) per second; sessions open. */
export const UDP_FIELDS = ["received", "forwarded", "replied", "dropped", "bytesIn", "bytesOut", "sessions"] as const;
export type UdpField = (typeof UDP_FIELDS)[number];

/** What a field is: a counter shown as its growth per second, or a gauge shown as it stands. Listed in the fields' order. */
type Kind = "rate" | "gauge";
const TCP_KINDS: Record<TcpField, Kind> = { connections: "rate", open: "gauge", bytesIn: "rate", bytesOut: "rate" };
const UDP_KINDS: Record<UdpField, Kind> = {
  received: "rate",
  forwarded: "rate",
  replied: "rate",
  dropped: "rate",
  bytesIn: "rate",
  bytesOut: "rate",
  sessions: "gauge",
};

function tcpFigures(l: TcpListenerStats): Record<TcpField, number> {
  return { connections: l.accepted, open: l.active, bytesIn: l.bytesIn, bytesOut: l.bytesOut };
}

function udpFigures(l: UdpListenerStats): Record<UdpField, number> {
  const dropped = Object.values(l.dropped).reduce((a, n) => a + n, 0);
  return {
    received: l.received.datagrams,
    forwarded: l.forwarded.datagrams,
    replied: l.replied.datagrams,
    dropped,
    bytesIn: l.received.bytes,
    bytesOut: l.replied.bytes,
    sessions: l.activeSessions,
  };
}

/** One kind of listener: its counters at the last sample, and the series made of their growth. */
class ListenerHistory<F extends string> {
  readonly series: SeriesSet<F>;
  private previous = new Map<string, Record<F, number>>();
  private readonly fields: readonly F[];
  private readonly idle: Record<F, number>;

  constructor(
    private readonly kinds: Record<F, Kind>,
    capacity: number,
    maxSeries: number,
  ) {
    const fields = (this.fields = Object.keys(kinds) as F[]);
    // Listeners are few and fixed at start: each is shown, busy or not, for as long as it is listening.
    this.series = new SeriesSet({ fields, capacity, maxSeries, active: (v) => fields.some((f) => v[f] > 0), pinned: () => true });
    this.idle = Object.fromEntries(fields.map((f) => [f, 0])) as Record<F, number>;
  }

  rebase(now: Map<string, Record<F, number>>): void {
    this.previous = now;
  }

  sample(now: Map<string, Record<F, number>>, seconds: number): void {
    const values = new Map<string, Record<F, number>>();
    for (const [key, figures] of now) {
      const before = this.previous.get(key);
      const point = {} as Record<F, number>;
      for (const field of this.fields) {
        if (this.kinds[field] === "gauge") point[field] = figures[field];
        else point[field] = before === undefined || figures[field] < before[field] ? NaN : (figures[field] - before[field]) / seconds;
      }
      values.set(key, point);
    }
    this.previous = now;
    this.series.push(values, this.idle);
  }
}

export interface L4Stats {
  tcp?: { listeners: TcpListenerStats[] };
  udp?: UdpListenerStats[];
}

export class L4History {
  private readonly tcpHistory: ListenerHistory<TcpField>;
  private readonly udpHistory: ListenerHistory<UdpField>;

  constructor(capacity: number, maxSeries: number) {
    this.tcpHistory = new ListenerHistory(TCP_KINDS, capacity, maxSeries);
    this.udpHistory = new ListenerHistory(UDP_KINDS, capacity, maxSeries);
  }

  get tcp(): SeriesSet<TcpField> {
    return this.tcpHistory.series;
  }

  get udp(): SeriesSet<UdpField> {
    return this.udpHistory.series;
  }

  rebase(stats: L4Stats): void {
    const now = byListener(stats);
    this.tcpHistory.rebase(now.tcp);
    this.udpHistory.rebase(now.udp);
  }

  sample(stats: L4Stats, seconds: number): void {
    const now = byListener(stats);
    this.tcpHistory.sample(now.tcp, seconds);
    this.udpHistory.sample(now.udp, seconds);
  }
}

function byListener(stats: L4Stats): { tcp: Map<string, Record<TcpField, number>>; udp: Map<string, Record<UdpField, number>> } {
  return {
    tcp: new Map((stats.tcp?.listeners ?? []).map((l) => [l.address, tcpFigures(l)])),
    udp: new Map((stats.udp ?? []).map((l) => [l.listen, udpFigures(l)])),
  };
}
