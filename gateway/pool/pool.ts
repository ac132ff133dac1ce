// A pool of upstream servers: owns their state and applies the rules every algorithm shares, once —
// disabled/draining/unhealthy servers get no new clients, backups only when no primary is available,
// a sticky client keeps its server while it can take it, a retry never returns to a server it already
// tried while another is available, and when every server is at maxConns requests wait in a bounded queue.
//
// Its methods are the only way the state of a server changes (server-state.ts): the proxy and L4 report
// answers and failures, health checks their results, the admin API its changes. Each method also does what
// belongs with the change: a server that becomes available wakes the queue, one that comes back starts
// slow start.
import { formatAddress } from "../config/address.ts";
import type { PoolConfig } from "../config/schema.ts";
import { defaultServerId } from "../config/references.ts";
import { createSelector } from "../balancing/registry.ts";
import type { SelectionInput, Selector } from "../balancing/selector.ts";
import { UpstreamServer } from "./server.ts";
import type { AdminState, CheckResult } from "./server-state.ts";
import { WaitQueue, type QueuePlace } from "./wait-queue.ts";
import { compileHashKey, type HashKeyOf, type KeySource } from "../balancing/hash-key.ts";
import type { StickyCookie } from "./sticky.ts";
import { DEFAULT_POOL_TLS, serverTls, type PoolTls } from "../http/upstream-tls.ts";

/** Told which servers DNS discovery added to a pool and which it removed. */
export type ServerListWatcher = (added: readonly UpstreamServer[], removed: readonly UpstreamServer[]) => void;

/** One server a DNS name stands for: an address (A/AAAA), or an SRV record's target, port, weight and priority. */
export interface Endpoint {
  host: string;
  port: number;
  /** SRV: the record's weight. */
  weight?: number;
  /** SRV: a record of a higher priority number than the lowest: used only when no primary is available. */
  backup?: boolean;
}

/** What a configured server points at: its url, address or SRV name. */
function targetOf(s: PoolConfig["servers"][number]): string {
  return "srv" in s ? s.srv : "url" in s ? s.url : s.address;
}

export class Pool {
  readonly name: string;
  readonly mode: "http" | "tcp";
  readonly balance: string;
  /** The servers now: the configured ones, with each `resolve`/`srv` entry expanded (only setResolved changes it). */
  private current: readonly UpstreamServer[] = [];
  private primaries: readonly UpstreamServer[] = [];
  private backups: readonly UpstreamServer[] = [];
  private ids: ReadonlyMap<string, UpstreamServer> = new Map();
  private selector!: Selector;
  private readonly queue: WaitQueue;
  private limited = false;
  private readonly config: PoolConfig;
  /** What each configured server stands for now: itself, or (`resolve`) one server per address of its name. */
  private readonly entries: UpstreamServer[][];
  /** Told when servers come and go with DNS (health checks start and stop theirs). */
  private readonly watchers = new Set<ServerListWatcher>();
  private readonly hashKeyOf: HashKeyOf;
  /** Set when the pool has `sticky` (HTTP pools): the cookie binding clients to servers. */
  sticky: StickyCookie | undefined;
  /** The algorithm weighs servers by the load they report: the proxy reads X-Server-Load only then. */
  readonly wantsLoadReports: boolean;

  /**
   * `config` as loaded (validateConfig): `balance` and `hash` are canonical names already. `tls`: the pool's
   * `tls` with its files read (config/certificates.ts), for its https:// servers; the defaults without one.
   */
  constructor(
    name: string,
    config: PoolConfig,
    private readonly tls: PoolTls = DEFAULT_POOL_TLS,
  ) {
    this.name = name;
    this.mode = config.mode;
    this.balance = config.balance;
    this.config = config;
    this.queue = new WaitQueue(config.queue.max, config.queue.timeout);
    // A server to resolve has no address yet: it stands for nothing until its name's first lookup.
    this.entries = config.servers.map((s, i) => ("srv" in s || s.resolve ? [] : [this.buildServer(i)]));
    this.wantsLoadReports = config.balance === "capacity";
    this.hashKeyOf = compileHashKey(config.hash);
    this.rebuild();
  }

  /** The servers now: the configured ones, with each `resolve`/`srv` entry expanded into what its name stands for. */
  get servers(): readonly UpstreamServer[] {
    return this.current;
  }

  /** The configured server at `index`, or (`endpoint` given) one server its DNS name stands for. */
  private buildServer(index: number, endpoint?: Endpoint): UpstreamServer {
    const config = this.config;
    const s = config.servers[index]!;
    const latencyDecay = config.mode === "http" ? config.latencyDecay : undefined;
    let server: UpstreamServer;
    if ("srv" in s) {
      // One SRV record: its target and port, its weight, and a backup when a lower priority is there.
      const e = endpoint!;
      const target = formatAddress({ hostname: e.host, port: e.port });
      const options = {
        ...s,
        id: `${s.id ?? s.srv}@${target}`,
        name: s.srv,
        weight: e.weight ?? s.weight,
        backup: s.backup || e.backup === true,
        latencyDecay,
      };
      server = new UpstreamServer(config.mode === "tcp" ? target : `http://${target}`, e.host, e.port, options);
    } else if ("address" in s) {
      const i = s.address.lastIndexOf(":");
      const hostname = s.address.slice(0, i).replace(/^\[|\]$/g, "") || "127.0.0.1";
      const port = Number(s.address.slice(i + 1));
      const id = s.id ?? defaultServerId(s.address);
      server =
        endpoint === undefined
          ? new UpstreamServer(s.address, hostname, port, { ...s, id })
          : new UpstreamServer(formatAddress({ hostname: endpoint.host, port }), endpoint.host, port, { ...s, id: `${id}@${endpoint.host}`, name: hostname });
    } else {
      const url = new URL(s.url);
      const hostname = url.hostname.replace(/^\[|\]$/g, "");
      const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
      const id = s.id ?? defaultServerId(s.url);
      // https://: asked by its URL's host name (SNI), even when it is one address the name resolved to.
      const tls = url.protocol === "https:" ? serverTls(this.tls, hostname, formatAddress({ hostname: endpoint?.host ?? hostname, port })) : undefined;
      server =
        endpoint === undefined
          ? new UpstreamServer(url.origin, hostname, port, { ...s, id, latencyDecay, tls })
          : new UpstreamServer(`${url.protocol}//${formatAddress({ hostname: endpoint.host, port })}`, endpoint.host, port, {
              ...s,
              id: `${id}@${endpoint.host}`,
              name: hostname,
              hostHeader: `${hostname}:${port}`,
              latencyDecay,
              tls,
            });
    }
    server.live.ownerQueue = this.queue;
    return server;
  }

  /** The lists, the id map and the selector, from `entries`. */
  private rebuild(): void {
    this.current = this.entries.flat();
    this.primaries = this.servers.filter((s) => !s.backup);
    this.backups = this.servers.filter((s) => s.backup);
    this.ids = new Map(this.servers.map((s) => [s.id, s]));
    this.selector = createSelector(this.config.balance, { hash: this.config.hash, servers: this.servers });
    this.limited = this.servers.some((s) => s.maxConns > 0);
    this.sticky?.learn(this.servers);
  }

  /** The configured servers DNS stands behind: their index in the config, the name to look up and its record type. */
  get namesToResolve(): { index: number; name: string; records: "address" | "srv" }[] {
    const names: { index: number; name: string; records: "address" | "srv" }[] = [];
    this.config.servers.forEach((s, index) => {
      if ("srv" in s) names.push({ index, name: s.srv, records: "srv" });
      else if (s.resolve)
        names.push({ index, name: "url" in s ? new URL(s.url).hostname : s.address.slice(0, s.address.lastIndexOf(":")), records: "address" });
    });
    return names;
  }

  /** What the configured server at `index` stands for now (empty until resolved). */
  resolvedEndpoints(index: number): Endpoint[] {
    return (this.entries[index] ?? []).map((s) => ({ host: s.hostname, port: s.port, weight: s.configuredWeight, backup: s.backup }));
  }

  /**
   * The configured server at `index` (one with `resolve`, or `srv`) now stands for these endpoints (for
   * `resolve`, only `host` is read: the port is the configured one). A server whose endpoint stays is kept
   * as it is (health, counters, requests in flight); a new endpoint gets a new server; one whose SRV weight
   * or priority changed is a new server object with the same state; a server whose endpoint went is only
   * left out of selection: requests on it finish there. Returns the servers added and removed (watchers
   * are told too).
   */
  setResolved(index: number, endpoints: readonly Endpoint[]): { added: UpstreamServer[]; removed: UpstreamServer[] } {
    const before = this.entries[index];
    const entry = this.config.servers[index];
    if (!before || !entry || !("srv" in entry || entry.resolve)) throw new Error(`pool ${this.name}: server ${index} is not resolved by DNS`);
    const kept = new Map(before.map((s) => [s.id, s]));
    const seen = new Set<string>();
    const added: UpstreamServer[] = [];
    let changed = false;
    const now: UpstreamServer[] = [];
    for (const endpoint of endpoints) {
      const fresh = this.buildServer(index, endpoint);
      if (seen.has(fresh.id)) continue;
      seen.add(fresh.id);
      const old = kept.get(fresh.id);
      if (!old) {
        added.push(fresh);
        now.push(fresh);
      } else if (old.configuredWeight === fresh.configuredWeight && old.backup === fresh.backup) {
        now.push(old);
      } else {
        // Same server, new SRV weight or priority: its state carries on (as over a reload).
        if (old.live.weight === old.configuredWeight) old.live.weight = fresh.configuredWeight;
        fresh.live = old.live;
        now.push(fresh);
        changed = true;
      }
    }
    const removed = before.filter((s) => !seen.has(s.id));
    if (added.length === 0 && removed.length === 0 && !changed) return { added, removed };
    this.entries[index] = now;
    this.rebuild();
    if (added.length > 0 || changed) this.queue.wakeAll();
    for (const watcher of this.watchers) watcher(added, removed);
    return { added, removed };
  }

  /** Be told of servers DNS adds and removes; returns the function that stops it. */
  watchServers(watcher: ServerListWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** What the pool's algorithm and stickiness need to know about one request, read once. */
  selectionFor(source: KeySource): SelectionInput {
    const keyed = this.selector.needsHashKey;
    return {
      now: Date.now(),
      clientIp: source.clientIp,
      hashKey: keyed ? this.hashKeyOf(source) : undefined,
      uri: keyed && source.view ? source.view.path + source.view.search : undefined,
      stickyId: this.sticky && source.view ? this.sticky.serverOf(source.view) : undefined,
    };
  }

  /** True when the algorithm keys on the request (hash balancing): the caller computes `hashKey` only then. */
  get needsHashKey(): boolean {
    return this.selector.needsHashKey;
  }

  /**
   * Choose a server for a request now, or undefined when none can take it. `tried` holds servers that
   * already failed this request: they are avoided while any other is available.
   */
  select(input: SelectionInput, tried?: ReadonlySet<UpstreamServer>): UpstreamServer | undefined {
    const now = input.now;
    if (input.stickyId !== undefined) {
      const bound = this.ids.get(input.stickyId);
      if (bound?.availableForSticky(now) && !tried?.has(bound)) return bound;
    }
    const fresh = tried ? (s: UpstreamServer) => s.available(now) && !tried.has(s) : (s: UpstreamServer) => s.available(now);
    return this.selector.pick(this.primaries, fresh, input) ?? this.selector.pick(this.backups, fresh, input);
  }

  /**
   * Choose a server and count the request on it. When every live server is at its maxConns, wait in the
   * pool's queue (bounded in length and time) for one to free up; throws QueueFull or QueueTimeout when
   * the queue is full or the wait runs out. Undefined means no server is up at all (503 at once).
   */
  async acquire(input: SelectionInput, tried?: ReadonlySet<UpstreamServer>, signal?: AbortSignal): Promise<UpstreamServer | undefined> {
    const now = this.take(input, tried);
    if (now || !this.limited) return now;
    let server = this.select(input, tried);
    let place: QueuePlace | undefined;
    while (!server && this.limited && this.someAliveButFull(input.now, tried)) {
      // Woken but beaten to the slot: wait again in the same place, within the same deadline.
      place = await this.queue.wait(signal, place);
      input.now = Date.now();
      server = this.select(input, tried);
    }
    if (server) {
      const live = server.live;
      live.active++;
      live.requests++;
    }
    return server;
  }

  /** Choose a server and count the request on it, without waiting; undefined when none can take it now. */
  take(input: SelectionInput, tried?: ReadonlySet<UpstreamServer>): UpstreamServer | undefined {
    const server = this.select(input, tried);
    if (server) {
      const live = server.live;
      live.active++;
      live.requests++;
    }
    return server;
  }

  /** Whether a request that found no server now could get one by waiting (some live server is only full). */
  mayWait(now: number, tried?: ReadonlySet<UpstreamServer>): boolean {
    return this.limited && this.someAliveButFull(now, tried);
  }

  /** The request on `server` is over (answered, failed or cancelled): let a queued request in. */
  release(server: UpstreamServer): void {
    const live = server.live;
    live.active--;
    if (this.limited) this.queue.wakeOne();
    // A request from before a reload ending frees a slot the newer snapshot's pool counts too.
    if (live.ownerQueue !== this.queue) live.ownerQueue?.wakeOne();
  }

  /**
   * The server answered (`latencyMs` after the request went out, when that is known): the answer feeds the
   * latency average response-time balancing reads.
   */
  answered(server: UpstreamServer, now: number, latencyMs?: number): void {
    const live = server.live;
    live.lastOkAt = now;
    if (latencyMs !== undefined) live.observeLatency(latencyMs, now, server.latencyDecay);
  }

  /** The server reported its load (X-Server-Load, on an answer or a health check): the capacity balancer reads it. */
  loadReported(server: UpstreamServer, load: number, now: number): void {
    server.live.recordLoad(load, now);
  }

  /** A request to the server failed (connect error, timeout, bad answer): counted against its maxFails. */
  failed(server: UpstreamServer, now: number): void {
    server.live.countFailure(now, server.maxFails, server.failTimeout);
  }

  /**
   * An active health check's result, and the flip the rise/fall rule made of it (health/rise-fall.ts), if
   * any. A server that comes back starts slow start, and queued requests may take it.
   */
  checked(server: UpstreamServer, result: CheckResult, flip: "up" | "down" | undefined): void {
    const live = server.live;
    live.lastCheck = result;
    if (flip === "down") live.healthy = false;
    else if (flip === "up") this.cameBack(server, result.at);
  }

  /**
   * Active checks are off for the server (a reload removed `health`): its last check is forgotten, and a
   * server they had taken out comes back. True when it did.
   */
  checksOff(server: UpstreamServer, now = Date.now()): boolean {
    const live = server.live;
    live.lastCheck = undefined;
    if (live.healthy) return false;
    this.cameBack(server, now);
    return true;
  }

  /**
   * What the operator set (admin API): drain, disable, enable. Returns the admin state before. Enabling a
   * server that was out starts slow start and lets queued requests try it; health is not touched (an
   * enable never overrides a failing check).
   */
  setAdminState(server: UpstreamServer, state: AdminState, now = Date.now()): AdminState {
    const live = server.live;
    const before = live.adminState;
    live.adminState = state;
    if (state === "up" && before !== "up") {
      live.recoveredAt = now;
      this.queue.wakeAll();
    }
    return before;
  }

  /** The weight balancing uses (admin API; slow start, if running, ramps toward it). Returns the weight before. */
  setWeight(server: UpstreamServer, weight: number): number {
    const live = server.live;
    const before = live.weight;
    live.weight = weight;
    return before;
  }

  /** Healthy again: slow start ramps from `now`, and requests queued for a free server (maxConns) may take it. */
  private cameBack(server: UpstreamServer, now: number): void {
    const live = server.live;
    live.healthy = true;
    live.recoveredAt = now;
    this.queue.wakeAll();
  }

  private someAliveButFull(now: number, tried?: ReadonlySet<UpstreamServer>): boolean {
    return this.servers.some((s) => s.adminState === "up" && s.alive(now) && !tried?.has(s) && s.maxConns > 0 && s.active >= s.maxConns);
  }

  /** True when some server could take a new client now. */
  hasAvailable(): boolean {
    const now = Date.now();
    return this.servers.some((s) => s.available(now));
  }

  byId(id: string): UpstreamServer | undefined {
    return this.ids.get(id);
  }

  /** Requests waiting for a free server (maxConns). */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Take over the state the previous config's pool kept about the same servers (same id and target): the
   * very same object, so health, passive failures, counters, requests in flight, latency and an operator's
   * changes carry on as they were, and requests still running on the old snapshot keep counting on it. A
   * reload must not send traffic to a server known to be down, nor forget an operator's drain. A setting
   * the new config itself changed wins over what the operator set (removing `down: true` brings a server
   * back). Call it once the new snapshot can no longer fail to build: from here on, the old pool's servers
   * and this one's share their state.
   */
  inherit(previous: Pool): void {
    // A server DNS stands behind keeps what it stood for until its name is looked up again.
    for (const { index, name, records } of this.namesToResolve) {
      const same = previous.namesToResolve.find((n) => n.index === index);
      if (same?.name === name && same.records === records && targetOf(previous.config.servers[index]!) === targetOf(this.config.servers[index]!)) {
        this.entries[index] = previous.resolvedEndpoints(index).map((endpoint) => this.buildServer(index, endpoint));
      }
    }
    this.rebuild();
    for (const server of this.servers) {
      const old = previous.ids.get(server.id);
      if (!old || old.target !== server.target) continue;
      const live = old.live;
      if (server.configuredAdminState !== old.configuredAdminState) live.adminState = server.configuredAdminState;
      if (server.configuredWeight !== old.configuredWeight) live.weight = server.configuredWeight;
      live.ownerQueue = this.queue;
      server.live = live;
    }
  }
}
