// GET /metrics: the Prometheus text exposition (version 0.0.4) of what the gateway counts — requests per route,
// pool, method and status with their durations, every upstream server's state, attempts, failures and times, the
// upstream connection pool, plugin rejections, the listeners, the access log, the process and the build. Read from
// live state when scraped; nothing here runs per request.
//
// With `--workers`, every process counts its own requests: the primary sums its figures with those each worker
// sends it (`workerFigures`). What describes one shared thing rather than counting work — a server's state, weight
// and latency estimate, the TCP/UDP listeners (the primary's alone), uptime, start time — is the primary's.
import type { Snapshot } from "../snapshot.ts";
import type { HttpCounters } from "../observability/http-counters.ts";
import type { TcpStats } from "../l4/tcp-listeners.ts";
import type { UdpListenerStats } from "../l4/udp-listener.ts";
import type { UpstreamPool } from "../http/upstream-pool.ts";
import type { AccessLog } from "../access-log.ts";
import { FigureSet, renderExposition, sumFigures, type FamilyInfo, type Figures, type MetricType } from "../observability/exposition.ts";
import { processFigures } from "../runtime/process-figures.ts";
import { VERSION } from "../version.ts";
import { RELOAD_FAMILIES, type ReloadHistory } from "../reload-result.ts";

const family = (name: string, type: MetricType, help: string): FamilyInfo => ({ name, type, help });

/** Every family /metrics may show, in the order shown. */
export const FAMILIES: readonly FamilyInfo[] = [
  family("sluice_build_info", "gauge", "1, labelled with the Sluice version and the runtime it runs on."),
  family("sluice_uptime_seconds", "gauge", "Seconds since the gateway started."),
  family("sluice_worker_processes", "gauge", "Processes whose figures this scrape sums (the primary and every --workers process that answered)."),
  ...RELOAD_FAMILIES,
  family("sluice_worker_up", "gauge", "With --workers: 1 for each worker process connected to the primary, 0 for one starting, cut off or gone."),
  family(
    "sluice_http_requests_total",
    "counter",
    'HTTP requests answered, by route and pool ("" when none), method (OTHER for unregistered ones) and status code.',
  ),
  family("sluice_http_request_duration_seconds", "histogram", "Time from a request's head to the end of its answer, by route and pool."),
  family("sluice_plugin_rejections_total", "counter", "Requests a plugin answered with 401, 403 or 429 instead of passing them to an upstream."),
  family("sluice_server_up", "gauge", "1 when the server can take new clients (admin state up, healthy, not out after failures)."),
  family("sluice_server_healthy", "gauge", "1 unless active health checks took the server out."),
  family("sluice_server_weight", "gauge", "The weight balancing uses now (lower during slow start)."),
  family("sluice_server_active", "gauge", "Requests or connections in flight on the server."),
  family("sluice_server_requests_total", "counter", "Requests or connections sent to the server."),
  family("sluice_server_failures_total", "counter", "Failed requests or connection attempts (connect errors, timeouts, bad answers)."),
  family("sluice_server_latency_seconds", "gauge", "The server's peak-EWMA response latency estimate."),
  family("sluice_pool_queued", "gauge", "Requests waiting for a server below its maxConns."),
  family("sluice_upstream_attempts_total", "counter", "HTTP requests sent or tried to the server, retries included."),
  family(
    "sluice_upstream_failures_total",
    "counter",
    "Attempts that failed by the server's doing, by reason: connect, timeout, closed (before any answer), bad-response.",
  ),
  family("sluice_upstream_connect_seconds", "histogram", "Time to open a new connection to the server."),
  family("sluice_upstream_response_seconds", "histogram", "Time from the request sent whole to the server's answer head."),
  family("sluice_upstream_connections_open", "gauge", "Upstream connections open to an address, in use or idle."),
  family("sluice_upstream_connections_idle", "gauge", "Upstream connections idle in the pool, waiting for a request."),
  family("sluice_upstream_connections_opened_total", "counter", "Upstream connections opened to an address."),
  family("sluice_upstream_connections_reused_total", "counter", "Requests sent on an idle pooled connection instead of a new one."),
  family("sluice_http_connections_active", "gauge", "Client connections open on an HTTP listener."),
  family("sluice_http_connections_refused_total", "counter", "Client connections an HTTP listener refused (503) because maxConnections were open."),
  family("sluice_tcp_connections_active", "gauge", "Connections open through a TCP listener."),
  family("sluice_tcp_connections_total", "counter", "Connections accepted by a TCP listener."),
  family("sluice_tcp_received_bytes_total", "counter", "Bytes received from clients by a TCP listener."),
  family("sluice_tcp_sent_bytes_total", "counter", "Bytes sent to clients by a TCP listener."),
  family("sluice_tcp_errors_total", "counter", "Connections a TCP listener refused or cut, by reason."),
  family("sluice_tcp_server_received_bytes_total", "counter", "Bytes a server received through the TCP listeners."),
  family("sluice_tcp_server_sent_bytes_total", "counter", "Bytes a server sent through the TCP listeners."),
  family("sluice_udp_sessions_active", "gauge", "Client sessions open on a UDP listener."),
  family("sluice_udp_datagrams_total", "counter", "Datagrams through a UDP listener, by direction."),
  family("sluice_udp_bytes_total", "counter", "Bytes through a UDP listener, by direction."),
  family("sluice_udp_dropped_total", "counter", "Datagrams a UDP listener dropped, by reason."),
  family("sluice_access_log_dropped_total", "counter", "Access log lines dropped because the disk (or stdout) could not keep up."),
  family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds (every gateway process together)."),
  family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes (every gateway process together)."),
  family("process_open_fds", "gauge", "Open file descriptors (every gateway process together)."),
  family("process_max_fds", "gauge", "The limit on open file descriptors, per process."),
  family("process_start_time_seconds", "gauge", "When the gateway (its primary process) started, in seconds since the Unix epoch."),
];

/** What one process counts: the figures that add up over processes. */
export interface CountingSources {
  snapshot: Snapshot;
  http: HttpCounters;
  upstreams: UpstreamPool;
  accessLog: AccessLog;
  /** The HTTP listeners' connection counts. */
  httpListeners?: ReadonlyArray<{ kind: string; address: string; connections?: number; refused?: number }>;
}

/** What the primary alone shows. */
export interface MetricsSources extends CountingSources {
  tcp?: TcpStats;
  udp?: UdpListenerStats[];
  startedAt: number;
  /** The primary's reloads: the last one's outcome, when the running config was loaded, counts by result. */
  reload?: Pick<ReloadHistory, "collect">;
  runtime: { name: string; version: string };
}

/** This process's figures that add up over processes (what a worker sends the primary). */
export function countedFigures({ snapshot, http, upstreams, accessLog, httpListeners }: CountingSources): Figures {
  const set = new FigureSet();
  http.collect(set);
  for (const [poolName, pool] of snapshot.pools) {
    set.add("sluice_pool_queued", ["pool", poolName], pool.queued);
    for (const s of pool.servers) {
      const labels = ["pool", poolName, "server", s.id];
      set.add("sluice_server_active", labels, s.active);
      set.add("sluice_server_requests_total", labels, s.requests);
      set.add("sluice_server_failures_total", labels, s.failures);
      if (pool.mode === "http") s.figures.collect(set, poolName, s.id);
    }
  }
  upstreams.collect(set);
  for (const l of httpListeners ?? []) {
    // HTTP listeners of every kind: http, https, https-redirect.
    if (!l.kind.startsWith("http") || l.connections === undefined) continue;
    set.add("sluice_http_connections_active", ["listener", l.address], l.connections);
    set.add("sluice_http_connections_refused_total", ["listener", l.address], l.refused ?? 0);
  }
  accessLog.collect(set);
  const process = processFigures();
  set.add("process_cpu_seconds_total", [], process.cpuSeconds);
  set.add("process_resident_memory_bytes", [], process.residentBytes);
  if (process.openFds !== undefined) set.add("process_open_fds", [], process.openFds);
  return set.figures;
}

/** The primary's own figures: state, the L4 listeners, the build and the process's start. */
function primaryFigures({ snapshot, tcp, udp, startedAt, runtime, reload }: MetricsSources, processes: number): Figures {
  const now = Date.now();
  const set = new FigureSet();
  set.add("sluice_build_info", ["version", VERSION, "runtime", runtime.name, "runtime_version", runtime.version], 1);
  set.add("sluice_uptime_seconds", [], Math.round((now - startedAt) / 1000));
  set.add("sluice_worker_processes", [], processes);
  reload?.collect(set);
  for (const [poolName, pool] of snapshot.pools) {
    for (const s of pool.servers) {
      const labels = ["pool", poolName, "server", s.id];
      set.add("sluice_server_up", labels, s.available(now) ? 1 : 0);
      set.add("sluice_server_healthy", labels, s.healthy ? 1 : 0);
      set.add("sluice_server_weight", labels, s.effectiveWeight(now));
      set.add("sluice_server_latency_seconds", labels, s.latencyEstimate(now) / 1000);
    }
  }
  for (const l of tcp?.listeners ?? []) {
    const labels = ["listener", l.address];
    set.add("sluice_tcp_connections_active", labels, l.active);
    set.add("sluice_tcp_connections_total", labels, l.accepted);
    set.add("sluice_tcp_received_bytes_total", labels, l.bytesIn);
    set.add("sluice_tcp_sent_bytes_total", labels, l.bytesOut);
    for (const [reason, count] of Object.entries(l.errors)) set.add("sluice_tcp_errors_total", [...labels, "reason", reason], count);
  }
  for (const [poolName, servers] of Object.entries(tcp?.servers ?? {})) {
    for (const [server, traffic] of Object.entries(servers)) {
      set.add("sluice_tcp_server_received_bytes_total", ["pool", poolName, "server", server], traffic.bytesIn);
      set.add("sluice_tcp_server_sent_bytes_total", ["pool", poolName, "server", server], traffic.bytesOut);
    }
  }
  for (const l of udp ?? []) {
    const labels = ["listener", l.listen];
    set.add("sluice_udp_sessions_active", labels, l.activeSessions);
    for (const [direction, traffic] of [
      ["received", l.received],
      ["forwarded", l.forwarded],
      ["replied", l.replied],
    ] as const) {
      set.add("sluice_udp_datagrams_total", [...labels, "direction", direction], traffic.datagrams);
      set.add("sluice_udp_bytes_total", [...labels, "direction", direction], traffic.bytes);
    }
    for (const [reason, count] of Object.entries(l.dropped)) set.add("sluice_udp_dropped_total", [...labels, "reason", reason], count);
  }
  const process = processFigures();
  if (process.maxFds !== undefined) set.add("process_max_fds", [], process.maxFds);
  set.add("process_start_time_seconds", [], Math.floor(process.startTimeSeconds));
  return set.figures;
}

/**
 * The /metrics text: this process's counts summed with what the workers sent, and the primary's own figures
 * (`workersUp`: sluice_worker_up of each worker, from the primary's list of them).
 */
export function renderMetrics(sources: MetricsSources, workerFigures: readonly Figures[] = [], workersUp: Figures = {}): string {
  const counted = sumFigures([countedFigures(sources), ...workerFigures]);
  const own = primaryFigures(sources, 1 + workerFigures.length);
  return renderExposition(FAMILIES, { ...counted, ...own, ...workersUp });
}
