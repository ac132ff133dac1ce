// The upstream servers' states over the dashboard's window, as a timeline: each server's changes between up,
// down, drain and disabled with when they were seen. States are read, not reported: the history looks at
// every server at each sample (and when the history is asked for), which costs nothing per request and also
// catches what no event announces, such as passive failures running out. A change is therefore dated to the
// sample that saw it, and a flap shorter than the sample interval may go unseen.

export interface ServerSighting {
  pool: string;
  id: string;
  /** As /status shows it: up, down, drain or disabled. */
  state: string;
}

/** A stretch of time a server spent in one state (ms since the epoch). */
export interface StateBand {
  state: string;
  from: number;
  to: number;
}

export interface ServerTimeline {
  pool: string;
  id: string;
  bands: StateBand[];
}

interface Tracked {
  pool: string;
  id: string;
  /** The state seen at each change, oldest first; the first may start before the window (it is cut there). */
  changes: Array<{ at: number; state: string }>;
  lastSeen: number;
}

export class StateTimeline {
  private readonly servers = new Map<string, Tracked>();

  /**
   * `maxChanges` bounds each server's list (a server that flaps at every sample keeps its latest changes);
   * `maxServers` bounds how many servers are followed.
   */
  constructor(
    private readonly windowMs: number,
    private readonly maxServers: number,
    private readonly maxChanges: number,
  ) {}

  /** What every server is now. Servers no longer sighted end where they were last seen. */
  observe(sightings: Iterable<ServerSighting>, now: number): void {
    for (const { pool, id, state } of sightings) {
      const key = `${pool}\0${id}`;
      let tracked = this.servers.get(key);
      if (!tracked) {
        if (this.servers.size >= this.maxServers) continue;
        this.servers.set(key, (tracked = { pool, id, changes: [], lastSeen: now }));
      }
      if (tracked.changes[tracked.changes.length - 1]?.state !== state) tracked.changes.push({ at: now, state });
      if (tracked.changes.length > this.maxChanges) tracked.changes.splice(0, tracked.changes.length - this.maxChanges);
      tracked.lastSeen = now;
    }
    this.forget(now - this.windowMs);
  }

  /** Drop what ended before `start`: changes followed by another one before it, servers not seen since. */
  private forget(start: number): void {
    for (const [key, tracked] of this.servers) {
      if (tracked.lastSeen < start) {
        this.servers.delete(key);
        continue;
      }
      let drop = 0;
      while (drop + 1 < tracked.changes.length && tracked.changes[drop + 1]!.at <= start) drop++;
      if (drop > 0) tracked.changes.splice(0, drop);
    }
  }

  /** Every server's bands within the window ending at `now`. */
  timelines(now: number): ServerTimeline[] {
    const start = now - this.windowMs;
    return [...this.servers.values()].map(({ pool, id, changes, lastSeen }) => ({
      pool,
      id,
      bands: changes.map((change, i) => ({
        state: change.state,
        from: Math.max(change.at, start),
        to: changes[i + 1]?.at ?? lastSeen,
      })),
    }));
  }
}
