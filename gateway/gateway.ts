// The composition root: config → snapshot → listeners. Owns the lifecycle: start, reload (build a new
// snapshot and swap one reference), and graceful stop.
import type { Config, ConfigInput } from "./config/schema.ts";
import { validateConfig as validateAgainstSchema } from "./config/validate.ts";
import { loadConfig } from "./config/load.ts";
import { formatAddress, parseAddress } from "./config/address.ts";
import { balancerNames, canonicalBalancer } from "./balancing/registry.ts";
import type { HttpListener, Runtime } from "./runtime/types.ts";
import { getRuntime } from "./runtime/current.ts";
import { buildSnapshot, discardSnapshot, inheritServerState, type Snapshot } from "./snapshot.ts";
import { ListenerSet, prepareAll, stopWithin, type ListenerChange, type WantedListener } from "./listener-set.ts";
import { problemsOf, refusalResult, refusedWith, ReloadHistory, type ListenerMoves, type ReloadResult, type ReloadTrigger } from "./reload-result.ts";
import { tcpGroup, udpGroup } from "./l4/listener-groups.ts";
import { TrafficTable } from "./l4/tcp-stats.ts";
import type { TcpListenerConfig, UdpListenerConfig } from "./config/schema.ts";
import { teardownPlugins } from "./plugin/teardown.ts";
import { AccessLog } from "./access-log.ts";
import process, { cwd } from "node:process";
import { Buffer } from "node:buffer";
import { createAdminApp } from "./admin/app.ts";
import { statusDocument, type ListenerInfo } from "./admin/status.ts";
import { workerCount, type WorkerGroup } from "./workers.ts";
import { PrimaryFollower } from "./workers/follower.ts";
import { mergeStatus } from "./workers/merged-status.ts";
import { processView, type ProcessView } from "./workers/process-view.ts";
import { healthOf, wholeHealthOf, wholeStateOf } from "./workers/shared-state.ts";
import type { SharedServerState } from "./workers/messages.ts";
import { HttpCounters } from "./observability/http-counters.ts";
import { countedFigures, renderMetrics, type MetricsSources } from "./admin/metrics.ts";
import { sumFigures, type Figures } from "./observability/exposition.ts";
import { History, type HistoryOptions } from "./observability/history.ts";
import { startTcpListeners, type TcpListeners, type TcpStats } from "./l4/tcp-listeners.ts";
import { startUdpListeners, type UdpListeners, type UdpListenerStats } from "./l4/udp-listener.ts";
import { startHealthChecks, type HealthChecks } from "./health/checks.ts";
import { startDiscovery } from "./discovery/discovery.ts";
import { listenHttp, type EngineListener } from "./http/listener.ts";
import { httpListeners, type HttpListenerSettings } from "./config/http-listeners.ts";
import { applyRoles, ListenerRole } from "./listener-roles.ts";
import { certificateChooser, loadListenerCertificates, type ListenerCertificate } from "./config/certificates.ts";
import type { TlsServerSettings } from "./runtime/sockets.ts";
import { Deadlines } from "./http/deadlines.ts";
import { DEFAULT_UPSTREAM_POOL, UpstreamPool } from "./http/upstream-pool.ts";
import { Exchange } from "./proxy/exchange.ts";
import { engineServices } from "./proxy/engine-services.ts";

export interface StartOptions {
  /** A config file to load (JSON or TS); reloads re-read it. */
  configPath?: string;
  /** Or a config given as an object (tests, embedding). */
  config?: ConfigInput;
  /** Where relative paths of an object config resolve; defaults to the working directory. */
  configDir?: string;
  runtime?: Runtime;
  /** Worker processes sharing the listen ports; overrides the config's `workers` (the --workers flag). */
  workers?: number;
  /**
   * Whether this is the primary process (the default): it alone serves the admin listener and the TCP/UDP
   * listeners and logs health changes; `--workers` processes share only the HTTP ports.
   */
  primary?: boolean;
  /**
   * Signs sticky cookies of pools without their own `sticky.key`. Defaults to a random one per start:
   * cookies then survive reloads but not restarts. Workers are given the primary's.
   */
  stickySecret?: string;
  /**
   * What the admin's `POST /reload` does: by default this gateway's `reload()`; the CLI also has its `--workers`
   * processes reload, as SIGHUP does. Resolves with this process's result, or rejects as `reload()` does.
   */
  reloadAll?: (trigger: ReloadTrigger) => Promise<ReloadResult>;
  /** How the dashboard's history samples (default: every 5 s, 180 points); tests sample faster. */
  history?: Partial<HistoryOptions>;
}

/** Validate a config object the same way a file is validated; algorithm aliases come back as contract names. */
export function validateConfig(input: unknown): Config {
  return validateAgainstSchema(input, balancerNames, canonicalBalancer);
}

async function readConfig(options: StartOptions): Promise<{ config: Config; dir: string }> {
  if (options.configPath) {
    const loaded = await loadConfig(options.configPath, { knownBalancers: balancerNames as string[], canonicalBalancer });
    return { config: loaded.config, dir: loaded.dir };
  }
  return { config: validateConfig(options.config ?? {}), dir: options.configDir ?? cwd() };
}

export class Gateway {
  private snapshot: Snapshot;
  /** How long a TLS handshake may take (`limits.headerTimeout` at start). */
  private handshakeTimeoutMs = 0;
  // The listeners by address: a reload opens the addresses that are new, closes the ones removed (their
  // connections finish) and keeps the rest untouched. TCP, UDP and admin listeners run in the primary only.
  private readonly httpSet = new ListenerSet<HttpListenerEntry, OpenHttpListener>({
    open: (entry) => this.openHttp(entry),
    close: (listener, graceMs) => stopWithin(listener.engine, graceMs),
    bound: (listener) => [formatAddress(listener.engine)],
  });
  private readonly tcpSet = new ListenerSet<TcpListenerConfig, TcpListeners>({
    open: (config) => startTcpListeners([config], this.l4Deps(), this.tcpTraffic),
    close: (group, graceMs) => group.stop(graceMs),
    bound: (group) => group.listeners.map((l) => l.address),
  });
  private readonly udpSet = new ListenerSet<UdpListenerConfig, UdpListeners>({
    open: (config) => startUdpListeners([config], this.l4Deps()),
    close: (group) => group.stop(),
    bound: (group) => group.listeners.map((l) => l.address),
  });
  private readonly adminSet = new ListenerSet<string, HttpListener>({
    open: (address) => this.openAdmin(address),
    close: (listener, graceMs) => stopWithin(listener, graceMs),
    bound: (listener) => [formatAddress(listener)],
  });
  /** Bytes per upstream server through the TCP listeners, those a reload opened included. */
  private readonly tcpTraffic = new TrafficTable();
  /** What the HTTP listeners hand their requests to (the current snapshot's routes, through `this`). */
  private services: ReturnType<typeof engineServices> | undefined;
  /** The limits of the start: listeners a reload opens take them too, as the ones it keeps have them. */
  private startLimits: Config["limits"] | undefined;
  /** The admin app (made at start, with the token of the start), whichever address serves it. */
  private adminApp: { fetch(request: Request): Response | Promise<Response> } | undefined;
  private adminToken: string | undefined;
  /** Every reload's result, for /status and /metrics. */
  private readonly reloadHistory = new ReloadHistory(Date.now());
  private draining = false;
  /** The dashboard's charts: sampled while the admin listener serves. */
  private history: History | undefined;
  private readonly startedAt = Date.now();
  /** The active health checks of the current snapshot's pools. */
  private checks: HealthChecks = { stop() {} };
  private readonly deadlines = new Deadlines();
  /** Replaced snapshots whose plugins are waiting for their last requests before teardown. */
  private readonly retiring = new Set<Snapshot>();
  /** In the primary: the `--workers` processes (set by the CLI); /status and /metrics show them, admin changes reach them. */
  workerGroup: WorkerGroup | undefined;
  /** The `--workers` processes' figures, summed into the primary's /metrics. */
  workerFigures: () => Promise<Figures[]> = async () => (await this.workerGroup?.figures()) ?? [];
  /** In a `--workers` process: the primary's health verdicts, followed instead of running checks. */
  readonly follower = new PrimaryFollower();

  private constructor(
    private readonly runtime: Runtime,
    private readonly options: StartOptions,
    snapshot: Snapshot,
    private readonly accessLog: AccessLog,
    private readonly counters: HttpCounters,
    private readonly upstreams: UpstreamPool,
  ) {
    this.snapshot = snapshot;
  }

  static async start(options: StartOptions): Promise<Gateway> {
    const runtime = options.runtime ?? (await getRuntime());
    const { config, dir } = await readConfig(options);
    // Read once at start, like the listen addresses: changed certificates need a restart.
    const certificates = loadListenerCertificates(config, dir);
    const accessLog = new AccessLog((path) => runtime.openLog(path));
    await accessLog.configure(config.accessLog, dir);
    const stickySecret = options.stickySecret ?? randomSecret();
    const counters = new HttpCounters();
    // Read at start, like the other limits.
    const upstreams = new UpstreamPool(runtime, { ...DEFAULT_UPSTREAM_POOL, maxResponseHead: config.limits.maxResponseHeaderSize });
    const snapshot = await buildSnapshot(config, dir, { runtime, upstreams, accessLog, stickySecret, counters });
    const gateway = new Gateway(runtime, { ...options, stickySecret }, snapshot, accessLog, counters, upstreams);
    gateway.checks = gateway.startChecks(snapshot);
    try {
      await gateway.listen(config, certificates);
    } catch (error) {
      await gateway.stop(0);
      throw error;
    }
    return gateway;
  }

  private async listen(config: Config, certificates: ListenerCertificate[][]): Promise<void> {
    this.services = engineServices(() => this.snapshot, this.upstreams, this.accessLog, this.counters);
    // Limits are read at start: listeners a reload opens take these too, and reloaded certificates this timeout.
    this.startLimits = config.limits;
    this.handshakeTimeoutMs = config.limits.headerTimeout;
    if (config.admin !== false && this.primary) {
      const history = (this.history = this.startHistory());
      this.adminToken = config.admin.token;
      this.adminApp = createAdminApp({
        token: config.admin.token,
        ready: () => !this.draining,
        status: () => this.status(),
        metrics: async () => renderMetrics(this.metricsSources(), await this.workerFigures(), this.workerGroup?.upFigures()),
        everyWorker: (change) => this.workerGroup?.change(change),
        pools: () => this.snapshot.pools,
        history: () => history.document(),
        reload: () => this.reloadFromAdmin(),
      });
    }
    for (const change of (await this.prepareListeners(config, certificates)).all) change.commit(0);
    // Once every listener listens: a redirect's default port is the first HTTPS listener's.
    applyRoles(
      this.roles,
      httpListeners(config),
      this.http.map((l) => l.port),
    );
  }

  /** One HTTP listener of the config: its entry in `listen` and the certificates it serves. */
  private async openHttp({ settings: listener, served }: HttpListenerEntry): Promise<OpenHttpListener> {
    const services = this.services!;
    const limits = this.startLimits!;
    const proto = served.length > 0 ? "https" : "http";
    const role = new ListenerRole(listener, served.length > 0);
    const engine = await listenHttp(this.runtime, {
      ...parseAddress(listener.address)!,
      reusePort: this.workers > 1,
      maxConnections: listener.maxConnections,
      tls: served.length > 0 ? tlsSettings(served, limits.headerTimeout) : undefined,
      connection: {
        // The limits of the start, on listeners a reload opens too: one gateway, one set of limits.
        limits: { maxUriLength: limits.maxUriLength, maxHeaderSize: limits.maxHeaderSize, maxHeaderCount: limits.maxHeaderCount },
        maxBodySize: limits.maxBodySize,
        headerTimeout: limits.headerTimeout,
        idleTimeout: limits.idleTimeout,
        bodyTimeout: limits.bodyTimeout,
        sendTimeout: limits.sendTimeout,
        deadlines: this.deadlines,
        answerFields: role.answerFields,
      },
      onRequest: role.redirect
        ? (connection, head) => new Exchange(connection, head, services, proto).redirectToHttps(role.redirect!)
        : (connection, head) => new Exchange(connection, head, services, proto).run(),
      onRefused: (connection, status, message, requestId) => services.refusedHead(connection.clientAddress, status, message, requestId),
    });
    return { engine, role };
  }

  private openAdmin(address: string): Promise<HttpListener> {
    const app = this.adminApp!;
    return this.runtime.serveHttp({
      ...parseAddress(address)!,
      idleTimeoutSeconds: 30,
      maxRequestBodySize: 1024 * 1024,
      handler: (request) => app.fetch(request),
    });
  }

  /** What a reload cannot change about the admin listener: its app, with its token, is made at start. */
  private adminNotes(config: Config): string[] {
    if (!this.primary) return [];
    if (!this.adminApp) return config.admin !== false ? ["admin: an admin listener added by a reload needs a restart"] : [];
    if (config.admin !== false && config.admin.token !== this.adminToken)
      return ["admin.token: changed: the admin listener keeps the token of the start until a restart"];
    return [];
  }

  private l4Deps() {
    return { runtime: this.runtime, pools: () => this.snapshot.pools, log: (line: string) => console.error(line) };
  }

  /**
   * Open what `config` adds to the running listeners, all or nothing (a listener that cannot be opened closes
   * the ones opened before it and rejects); `commit` then puts the new set in place.
   */
  private async prepareListeners(config: Config, certificates: ListenerCertificate[][]): Promise<ListenerChanges> {
    const http = httpListeners(config).map(
      (settings, i): WantedListener<HttpListenerEntry> => ({
        address: settings.address,
        where: `listen[${i}]`,
        settings: { settings, served: certificates[i] ?? [] },
      }),
    );
    // The admin app is made at start: an admin listener turned on or off by a reload needs a restart.
    const admin =
      this.primary && this.adminApp && config.admin !== false ? [{ address: config.admin.listen, where: "admin.listen", settings: config.admin.listen }] : [];
    const l4 = <C extends { listen: string }>(kind: string, configs: readonly C[]) =>
      this.primary ? configs.map((c, i) => ({ address: c.listen, where: `${kind}[${i}].listen`, settings: c })) : [];
    let httpChange: ListenerChange<HttpListenerEntry, OpenHttpListener> | undefined;
    const all = await prepareAll([
      async () => (httpChange = await this.httpSet.prepare(http)),
      () => this.tcpSet.prepare(l4("tcp", config.tcp)),
      () => this.udpSet.prepare(l4("udp", config.udp)),
      () => this.adminSet.prepare(admin),
    ]);
    return { http: httpChange!, all };
  }

  private get http(): EngineListener[] {
    return this.httpSet.listeners.map((l) => l.engine);
  }

  /** What each HTTP listener is (HTTP, HTTPS, a redirect to HTTPS), in the order of `http`. */
  private get roles(): ListenerRole[] {
    return this.httpSet.listeners.map((l) => l.role);
  }

  private get admin(): HttpListener | undefined {
    return this.adminSet.listeners[0];
  }

  private get tcp() {
    return this.primary ? tcpGroup(this.tcpSet.listeners, this.tcpTraffic) : undefined;
  }

  private get udp() {
    return this.primary ? udpGroup(this.udpSet.listeners) : undefined;
  }

  /**
   * Health checks for a snapshot's pools. The primary checks, logs state changes, and tells its `--workers`
   * processes each flip; they follow its verdicts instead of checking (N processes, one prober).
   */
  private startChecks(snapshot: Snapshot): HealthChecks {
    const log = this.primary ? (line: string) => console.error(line) : () => {};
    const checks = this.primary
      ? startHealthChecks(snapshot.pools, snapshot.config.pools, this.runtime, log, {
          onFlip: (pool, server) => this.workerGroup?.healthChanged([healthOf(pool, server)]),
        })
      : this.follower.follow(snapshot.pools, snapshot.config.pools);
    // After a reload the workers are sent every verdict again: servers came and went, checks may be off.
    if (this.primary) this.workerGroup?.healthChanged(wholeHealthOf(snapshot.pools), true);
    // DNS discovery changes the servers the checks follow: it runs and pauses with them.
    const discovery = startDiscovery(snapshot.pools, snapshot.config.resolver, log);
    return {
      stop() {
        discovery.stop();
        checks.stop();
      },
    };
  }

  /** The dashboard's history, sampled from what /metrics shows: every process's counts summed, the primary's state. */
  private startHistory(): History {
    return new History(
      {
        figures: async () => {
          const workers = await this.workerFigures();
          return { figures: sumFigures([this.countedFigures(), ...workers]), processes: 1 + workers.length };
        },
        servers: () => [...this.snapshot.pools].flatMap(([pool, p]) => p.servers.map((s) => ({ pool, id: s.id, state: s.state }))),
        l4: () => this.l4Stats(),
        log: (line) => console.error(line),
      },
      this.options.history,
    ).start();
  }

  private metricsSources(): MetricsSources {
    return {
      snapshot: this.snapshot,
      http: this.counters,
      upstreams: this.upstreams,
      accessLog: this.accessLog,
      httpListeners: this.listeners(),
      ...this.l4Stats(),
      startedAt: this.startedAt,
      runtime: this.runtime,
      reload: this.reloadHistory,
    };
  }

  /** This process's counts for /metrics, as a `--workers` process hands them to the primary. */
  countedFigures(): Figures {
    return countedFigures(this.metricsSources());
  }

  /** The /status document; with `--workers`, summed over every process and listing each. */
  private async status(): Promise<object> {
    const own = { ...statusDocument(this.snapshot, this.listeners(), this.startedAt, this.l4Stats()), reload: this.reloadHistory.status() };
    if (!this.workerGroup) return own;
    return mergeStatus(own, [{ state: "up", ...this.processView(0) }, ...(await this.workerGroup.entries())]);
  }

  /** This process's own view for the `workers` part of /status (0: the primary; 1…N: a worker). */
  processView(worker: number): ProcessView {
    const sources = { snapshot: this.snapshot, listeners: this.listeners(), startedAt: this.startedAt, figures: this.countedFigures() };
    return processView({ ...sources, worker, pid: process.pid });
  }

  /** Every server's shared state (health, admin state, weight): what a `--workers` process is sent when it joins. */
  sharedState(): SharedServerState[] {
    return wholeStateOf(this.snapshot.pools);
  }

  /** SIGUSR1: the access log's file is opened again by its name (after logrotate moved it). */
  reopenLogs(): Promise<void> {
    return this.accessLog.reopen();
  }

  /** The secret signing sticky cookies of pools without their own key (workers must share it). */
  get stickySecret(): string {
    return this.options.stickySecret!;
  }

  /** How many processes serve this config (this one included). */
  get workers(): number {
    return this.options.workers ?? workerCount(this.snapshot.config.workers);
  }

  private get primary(): boolean {
    return this.options.primary !== false;
  }

  listeners(): ListenerInfo[] {
    return [
      ...this.http.map((l, i) => {
        const { kind, redirectsTo } = this.roles[i]!;
        return { kind, address: formatAddress(l), ...(redirectsTo && { redirect: redirectsTo }), ...l.stats() };
      }),
      ...(this.admin ? [{ kind: "admin" as const, address: formatAddress(this.admin) }] : []),
      ...(this.tcp?.listeners ?? []),
      ...(this.udp?.listeners ?? []),
    ];
  }

  /** Per-listener and per-server figures of the TCP and UDP listeners, for /status. */
  l4Stats(): { tcp?: TcpStats; udp?: UdpListenerStats[] } {
    return { tcp: this.tcp?.stats(), udp: this.udp?.stats() };
  }

  /** The first HTTP listener as a URL, e.g. "http://127.0.0.1:8080" ("https://…" for an HTTPS one). */
  get url(): string {
    return urlOf(this.http[0]!, this.roles[0]?.kind === "https" ? "https" : "http");
  }

  get adminUrl(): string | undefined {
    return this.admin ? urlOf(this.admin) : undefined;
  }

  get current(): Snapshot {
    return this.snapshot;
  }

  /**
   * Re-read the config (or take `config`) and swap in a new snapshot and listener set. A config that fails
   * validation, or whose new listen addresses cannot all be opened, is refused and the running one stays.
   * Reloads run one after another (a SIGHUP and an admin `POST /reload` may come together): each builds on
   * the snapshot the one before it left, and stops the health checks it started. Resolves with the result, or
   * rejects with the error that refused it (its message: the problems, one per line); either way /status shows it.
   */
  reload(config?: ConfigInput, trigger: ReloadTrigger = "api"): Promise<ReloadResult> {
    const done = this.reloads.then(async () => {
      const startedAt = Date.now();
      let outcome: { listeners: ListenerMoves; notes: string[] };
      try {
        outcome = await this.reloadNow(config);
      } catch (error) {
        throw refusedWith(error, this.reloadHistory.record({ trigger, startedAt, problems: problemsOf(error) }));
      }
      return this.reloadHistory.record({ trigger, startedAt, ...outcome });
    });
    this.reloads = done.catch(() => {});
    return done;
  }
  /** The last reload asked for, settled or not. */
  private reloads: Promise<unknown> = Promise.resolve();

  /** `POST /reload`: every process reloads (as SIGHUP), and the answer is this one's result, refused or not. */
  private async reloadFromAdmin(): Promise<ReloadResult> {
    try {
      return await (this.options.reloadAll ? this.options.reloadAll("admin") : this.reload(undefined, "admin"));
    } catch (error) {
      const refused = refusalResult(error);
      if (refused) return refused;
      throw error;
    }
  }

  private async reloadNow(config?: ConfigInput): Promise<{ listeners: ListenerMoves; notes: string[] }> {
    // A stopping gateway opens nothing more: its listeners are closing.
    if (this.draining) throw new Error("the gateway is stopping: reload refused");
    const next = await readConfig(config ? { ...this.options, config, configPath: undefined } : this.options);
    // Certificate files that cannot be served refuse the reload, as at start.
    const certificates = loadListenerCertificates(next.config, next.dir);
    // The access log's new file (if it names one) is opened first: one that cannot be opened refuses the reload.
    const log = await this.accessLog.prepare(next.config.accessLog, next.dir);
    // Checks pause while the new snapshot is built; they start again on the snapshot that serves afterwards.
    this.checks.stop();
    let snapshot: Snapshot;
    try {
      snapshot = await buildSnapshot(next.config, next.dir, {
        runtime: this.runtime,
        upstreams: this.upstreams,
        accessLog: this.accessLog,
        stickySecret: this.options.stickySecret!,
        counters: this.counters,
        previous: this.snapshot,
      });
    } catch (error) {
      if (!this.draining) this.checks = this.startChecks(this.snapshot);
      log.discard();
      throw error;
    }
    // The new listen addresses are opened last: one that cannot be (a port in use) refuses the reload, and the
    // snapshot built for it is let go. From here nothing can fail. A listener opened here serves its first
    // connections on the running snapshot until the swap below, a moment later.
    let prepared: ListenerChanges;
    try {
      prepared = await this.prepareListeners(next.config, certificates);
    } catch (error) {
      if (!this.draining) this.checks = this.startChecks(this.snapshot);
      log.discard();
      await discardSnapshot(snapshot, this.snapshot);
      throw error;
    }
    const previous = this.snapshot;
    inheritServerState(snapshot, previous);
    this.snapshot = snapshot;
    // Removed listeners stop accepting now; their connections get the new config's shutdown timeout.
    const changes = prepared.all;
    for (const change of changes) change.commit(next.config.shutdownTimeout);
    const notes = [...listenerNotes(changes), ...this.adminNotes(next.config)];
    this.accessLog.apply(log);
    this.updateCertificates(prepared.http);
    for (const line of applyRoles(
      this.roles,
      httpListeners(next.config),
      this.http.map((l) => l.port),
    ))
      if (this.primary) console.error(`sluice: ${line}`);
    if (!this.draining) this.checks = this.startChecks(snapshot);
    this.retire(previous);
    const listeners = { opened: changes.flatMap((c) => c.opened), closed: changes.flatMap((c) => c.closed) };
    if (this.primary) {
      if (listeners.opened.length > 0) console.error(`sluice: reload: now listening on ${listeners.opened.join(", ")}`);
      if (listeners.closed.length > 0)
        console.error(`sluice: reload: stopped listening on ${listeners.closed.join(", ")} (open connections get ${next.config.shutdownTimeout} ms to finish)`);
      for (const note of notes) console.error(`sluice: reload: ${note}`);
    }
    return { listeners, notes };
  }

  /**
   * HTTPS listeners the reload kept take its certificates for their next handshakes; open connections keep
   * theirs. (Those it opened have them already.)
   */
  private updateCertificates(http: ListenerChange<HttpListenerEntry, OpenHttpListener>): void {
    for (const { listener, wanted, running, address } of http.kept) {
      if (wanted.served.length === 0 || running.served.length === 0) continue;
      if (!listener.engine.updateTls(tlsSettings(wanted.served, this.handshakeTimeoutMs)) && this.primary) {
        console.error(`sluice: ${address}: the certificates cannot be replaced on this runtime: restart to serve new ones`);
      }
    }
  }

  /**
   * A replaced snapshot's plugins close what they opened once the requests that started on it have ended, or
   * after the shutdown timeout (an upgraded connection may last for hours): then its teardown hooks run, and a
   * tracer the new config does not use exports those requests' spans and stops.
   */
  private retire(previous: Snapshot): void {
    const tracerLeft = previous.tracing !== undefined && previous.tracing !== this.snapshot.tracing;
    if (!tracerLeft && !previous.plugins.some((p) => p.hooks.teardown)) return;
    this.retiring.add(previous);
    void previous.use.idle(previous.config.shutdownTimeout).then(() => this.tearDown(previous));
  }

  /** Run a replaced snapshot's teardown hooks, once, whoever asks first (its last request, or stop). */
  private tearDown(snapshot: Snapshot): Promise<void> {
    if (!this.retiring.delete(snapshot)) return Promise.resolve();
    snapshot.use.stopWaiting();
    const tracer = snapshot.tracing !== this.snapshot.tracing ? snapshot.tracing?.shutdown() : undefined;
    return Promise.all([teardownPlugins(snapshot.plugins, (line) => console.error(line)), tracer]).then(() => {});
  }

  /**
   * Stop accepting, let in-flight requests finish for up to `graceMs`, then cut what is left. The admin
   * listener stays up until the end so that /readyz can tell load balancers the gateway is draining.
   */
  async stop(graceMs = this.snapshot.config.shutdownTimeout): Promise<void> {
    this.draining = true;
    this.checks.stop();
    this.history?.stop();
    // TCP connections drain in parallel with HTTP requests, under the same grace period.
    const tcpDrained = this.tcpSet.stop(graceMs);
    await Promise.all(this.http.map((l) => stopWithin(l, graceMs)));
    await tcpDrained;
    await this.udpSet.stop(graceMs);
    await this.admin?.stop(true);
    // Listeners a reload removed may still be finishing connections (within their own shutdown timeout).
    await this.httpSet.stop(graceMs);
    this.upstreams.closeIdle();
    // In-flight requests are over (or were cut): every plugin closes what it opened, and their spans are exported.
    await Promise.all([
      ...[...this.retiring].map((s) => this.tearDown(s)),
      teardownPlugins(this.snapshot.plugins, (line) => console.error(line)),
      this.snapshot.tracing?.shutdown(),
    ]);
    await this.accessLog.close();
  }
}

/** One `listen` entry as the gateway opens it: its settings and the certificates it serves (none: plain HTTP). */
interface HttpListenerEntry {
  settings: HttpListenerSettings;
  served: ListenerCertificate[];
}

interface OpenHttpListener {
  engine: EngineListener;
  role: ListenerRole;
}

/** What a config changes in every listener set; the HTTP one also on its own (its kept listeners take new certificates). */
interface ListenerChanges {
  http: ListenerChange<HttpListenerEntry, OpenHttpListener>;
  all: ListenerChange<unknown, unknown>[];
}

/**
 * What a reload cannot change on a listener it keeps (its socket and connections stay as they are): settings
 * that differ from those it was opened with are reported, one line per listener, and need a restart.
 */
function listenerNotes(changes: ListenerChange<unknown, unknown>[]): string[] {
  const notes: string[] = [];
  for (const change of changes) {
    for (const kept of change.kept) {
      const differ = changedKeys(comparable(kept.running), comparable(kept.wanted));
      if (differ.length > 0)
        notes.push(`${kept.where}: ${differ.join(", ")} changed on ${kept.address}: a listener kept by a reload keeps its settings until a restart`);
    }
  }
  return notes;
}

/** A listener's settings as compared across reloads: an HTTPS listener's certificates are replaced, only TLS on or off counts. */
function comparable(settings: unknown): Record<string, unknown> {
  if (typeof settings !== "object" || settings === null) return {};
  if ("served" in settings && "settings" in settings) {
    // HSTS and a redirect's status and port are applied to kept listeners (listener-roles.ts).
    const entry = settings as HttpListenerEntry;
    return { maxConnections: entry.settings.maxConnections, tls: entry.served.length > 0 };
  }
  const { listen: _listen, ...rest } = settings as Record<string, unknown>;
  return rest;
}

function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

function urlOf(listener: HttpListener, scheme = "http"): string {
  const host = listener.hostname === "0.0.0.0" || listener.hostname === "::" ? "127.0.0.1" : listener.hostname;
  return `${scheme}://${formatAddress({ hostname: host, port: listener.port })}`;
}

/** Start a gateway: the entry point for the CLI, tests and embedding. */
/**
 * What an HTTPS listener serves: these certificates, chosen by SNI, and HTTP/1.1 by ALPN. A handshake gets
 * `limits.headerTimeout`, as the request head after it: a client that opens connections and never finishes
 * a handshake holds nothing for longer than one that never finishes its head.
 */
function tlsSettings(certificates: ListenerCertificate[], handshakeTimeoutMs: number): TlsServerSettings {
  return { certificates, choose: certificateChooser(certificates), alpn: ["http/1.1"], handshakeTimeoutMs };
}

export function startGateway(options: StartOptions): Promise<Gateway> {
  return Gateway.start(options);
}
