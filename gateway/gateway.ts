// The composition root: config → snapshot → listeners. Owns the lifecycle: start, reload (build a new
// snapshot and swap one reference), and graceful stop.
import type { Config, ConfigInput } from "./config/schema.ts";
import { validateConfig as validateAgainstSchema } from "./config/validate.ts";
import { loadConfig } from "./config/load.ts";
import { formatAddress, parseAddress } from "./config/address.ts";
import { balancerNames, canonicalBalancer } from "./balancing/registry.ts";
import type { HttpListener, Runtime } from "./runtime/types.ts";
import { getRuntime } from "./runtime/current.ts";
import { buildSnapshot, type Snapshot } from "./snapshot.ts";
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
import { healthOf, wholeStateOf } from "./workers/shared-state.ts";
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
import { httpListeners } from "./config/http-listeners.ts";
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
   * processes reload, as SIGHUP does.
   */
  reloadAll?: () => Promise<void>;
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
  private readonly http: EngineListener[] = [];
  /** The address of each HTTP listener as the config at start gave it. */
  private readonly listenAddresses: string[] = [];
  /** What each HTTP listener is (HTTP, HTTPS, a redirect to HTTPS), in the order of `http`. */
  private readonly roles: ListenerRole[] = [];
  /** How long a TLS handshake may take (`limits.headerTimeout` at start). */
  private handshakeTimeoutMs = 0;
  private admin: HttpListener | undefined;
  private tcp: TcpListeners | undefined;
  private udp: UdpListeners | undefined;
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
    const services = engineServices(() => this.snapshot, this.upstreams, this.accessLog, this.counters);
    const { limits } = config;
    // Limits are read at start: reloaded certificates keep this one.
    this.handshakeTimeoutMs = limits.headerTimeout;
    const settings = httpListeners(config);
    for (const [i, listener] of settings.entries()) {
      this.listenAddresses.push(listener.address);
      const served = certificates[i] ?? [];
      const proto = served.length > 0 ? "https" : "http";
      const role = new ListenerRole(listener, served.length > 0);
      this.roles.push(role);
      this.http.push(await listenHttp(this.runtime, {
        ...parseAddress(listener.address)!,
        reusePort: this.workers > 1,
        maxConnections: listener.maxConnections,
        tls: served.length > 0 ? tlsSettings(served, limits.headerTimeout) : undefined,
        connection: {
          // Limits are read at start, like the listen addresses.
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
      }));
    }
    // Once every listener listens: a redirect's default port is the first HTTPS listener's.
    applyRoles(this.roles, settings, this.http.map((l) => l.port));
    if (this.primary) {
      const l4 = { runtime: this.runtime, pools: () => this.snapshot.pools, log: (line: string) => console.error(line) };
      this.tcp = await startTcpListeners(config.tcp, l4);
      this.udp = await startUdpListeners(config.udp, l4);
    }
    if (config.admin !== false && this.primary) {
      const history = (this.history = this.startHistory());
      const app = createAdminApp({
        token: config.admin.token,
        ready: () => !this.draining,
        status: () => this.status(),
        metrics: async () => renderMetrics(this.metricsSources(), await this.workerFigures(), this.workerGroup?.upFigures()),
        everyWorker: (change) => this.workerGroup?.change(change),
        pools: () => this.snapshot.pools,
        history: () => history.document(),
        reload: () => (this.options.reloadAll ? this.options.reloadAll() : this.reload()),
      });
      this.admin = await this.runtime.serveHttp({
        ...parseAddress(config.admin.listen)!,
        idleTimeoutSeconds: 30,
        maxRequestBodySize: 1024 * 1024,
        handler: (request) => app.fetch(request),
      });
    }
  }

  /**
   * Health checks for a snapshot's pools. The primary checks, logs state changes, and tells its `--workers`
   * processes each flip; they follow its verdicts instead of checking (N processes, one prober).
   */
  private startChecks(snapshot: Snapshot): HealthChecks {
    const log = this.primary ? (line: string) => console.error(line) : () => {};
    const checks = this.primary
      ? startHealthChecks(snapshot.pools, snapshot.config.pools, this.runtime, log, { onFlip: (pool, server) => this.workerGroup?.healthChanged([healthOf(pool, server)]) })
      : this.follower.follow(snapshot.pools, snapshot.config.pools);
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
    return new History({
      figures: async () => {
        const workers = await this.workerFigures();
        return { figures: sumFigures([this.countedFigures(), ...workers]), processes: 1 + workers.length };
      },
      servers: () => [...this.snapshot.pools].flatMap(([pool, p]) => p.servers.map((s) => ({ pool, id: s.id, state: s.state }))),
      l4: () => this.l4Stats(),
      log: (line) => console.error(line),
    }, this.options.history).start();
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
    };
  }

  /** This process's counts for /metrics, as a `--workers` process hands them to the primary. */
  countedFigures(): Figures {
    return countedFigures(this.metricsSources());
  }

  /** The /status document; with `--workers`, summed over every process and listing each. */
  private async status(): Promise<object> {
    const own = statusDocument(this.snapshot, this.listeners(), this.startedAt, this.l4Stats());
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
   * Re-read the config and swap in a new snapshot. A config that fails validation is refused and the
   * running one stays. Listen addresses are fixed at start: changing them needs a restart. Reloads run one
   * after another (a SIGHUP and an admin `POST /reload` may come together): each builds on the snapshot the
   * one before it left, and stops the health checks it started.
   */
  reload(config?: ConfigInput): Promise<void> {
    const done = this.reloads.then(() => this.reloadNow(config));
    this.reloads = done.catch(() => {});
    return done;
  }
  /** The last reload asked for, settled or not. */
  private reloads: Promise<void> = Promise.resolve();

  private async reloadNow(config?: ConfigInput): Promise<void> {
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
    const previous = this.snapshot;
    this.snapshot = snapshot;
    this.accessLog.apply(log);
    this.updateCertificates(next.config, certificates);
    for (const line of applyRoles(this.roles, httpListeners(next.config), this.http.map((l) => l.port))) if (this.primary) console.error(`sluice: ${line}`);
    if (!this.draining) this.checks = this.startChecks(snapshot);
    this.retire(previous);
  }

  /**
   * HTTPS listeners take the reloaded config's certificates for their next handshakes; open connections keep
   * theirs. A listener is matched by its place in `listen` and its address (addresses are fixed at start).
   */
  private updateCertificates(config: Config, certificates: ListenerCertificate[][]): void {
    httpListeners(config).forEach((entry, i) => {
      const listener = this.http[i];
      const served = certificates[i] ?? [];
      if (!listener || served.length === 0 || entry.address !== this.listenAddresses[i]) return;
      if (!listener.updateTls(tlsSettings(served, this.handshakeTimeoutMs)) && this.primary) {
        console.error(`sluice: ${entry.address}: the certificates cannot be replaced on this runtime: restart to serve new ones`);
      }
    });
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
    const tcpDrained = this.tcp?.stop(graceMs);
    const graceful = Promise.all(this.http.map((l) => l.stop(false)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)));
    if ((await Promise.race([graceful, deadline])) === "timeout") await Promise.all(this.http.map((l) => l.stop(true)));
    clearTimeout(timer);
    await tcpDrained;
    await this.udp?.stop();
    await this.admin?.stop(true);
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

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

function urlOf(listener: HttpListener, scheme = "http"): string {
  const host = listener.hostname === "0.0.0.0" || listener.hostname === "::" ? "127.0.0.1" : listener.hostname;
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${listener.port}`;
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
