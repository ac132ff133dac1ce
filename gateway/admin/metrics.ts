// GET /metrics: the Prometheus text exposition (version 0.0.4) of what the gateway counts — requests per
// route and status class, every upstream server's state and counters, the queues, and the TCP/UDP
// listeners. Read from live state when scraped; nothing here runs per request.
import type { Snapshot } from "../snapshot.ts";
import type { HttpCounters } from "../observability/http-counters.ts";
import type { TcpStats } from "../l4/tcp-listeners.ts";
import type { UdpListenerStats } from "../l4/udp-listener.ts";

interface Family {
  help: string;
  type: "counter" | "gauge";
  samples: Array<[labels: Record<string, string>, value: number]>;
}

/** Label values escaped as the exposition format wants: backslash, double quote, newline. */
function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function render(families: Record<string, Family>): string {
  const out: string[] = [];
  for (const [name, family] of Object.entries(families)) {
    if (family.samples.length === 0) continue;
    out.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
    for (const [labels, value] of family.samples) {
      const text = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",");
      out.push(`${name}${text ? `{${text}}` : ""} ${Number.isFinite(value) ? value : 0}`);
    }
  }
  return out.join("\n") + "\n";
}

export interface MetricsSources {
  snapshot: Snapshot;
  http: HttpCounters;
  tcp?: TcpStats;
  udp?: UdpListenerStats[];
  /** The HTTP listeners' connection counts. */
  httpListeners?: ReadonlyArray<{ address: string; connections?: number; refused?: number }>;
  startedAt: number;
}

export function renderMetrics({ snapshot, http, tcp, udp, httpListeners, startedAt }: MetricsSources): string {
  const now = Date.now();
  const family = (help: string, type: Family["type"]): Family => ({ help, type, samples: [] });
  const f = {
    sluice_uptime_seconds: family("Seconds since the gateway started.", "gauge"),
    sluice_http_requests_total: family("HTTP requests answered, by route (\"\" when none matched) and status class.", "counter"),
    sluice_server_up: family("1 when the server can take new clients (admin state up, healthy, not out after failures).", "gauge"),
    sluice_server_healthy: family("1 unless active health checks took the server out.", "gauge"),
    sluice_server_weight: family("The weight balancing uses now (lower during slow start).", "gauge"),
    sluice_server_active: family("Requests or connections in flight on the server.", "gauge"),
    sluice_server_requests_total: family("Requests or connections sent to the server.", "counter"),
    sluice_server_failures_total: family("Failed requests or connection attempts (connect errors, timeouts, bad answers).", "counter"),
    sluice_server_latency_seconds: family("The server's peak-EWMA response latency estimate.", "gauge"),
    sluice_pool_queued: family("Requests waiting for a server below its maxConns.", "gauge"),
    sluice_http_connections_active: family("Client connections open on an HTTP listener.", "gauge"),
    sluice_http_connections_refused_total: family("Client connections an HTTP listener refused (503) because maxConnections were open.", "counter"),
    sluice_tcp_connections_active: family("Connections open through a TCP listener.", "gauge"),
    sluice_tcp_connections_total: family("Connections accepted by a TCP listener.", "counter"),
    sluice_tcp_received_bytes_total: family("Bytes received from clients by a TCP listener.", "counter"),
    sluice_tcp_sent_bytes_total: family("Bytes sent to clients by a TCP listener.", "counter"),
    sluice_tcp_errors_total: family("Connections a TCP listener refused or cut, by reason.", "counter"),
    sluice_tcp_server_received_bytes_total: family("Bytes a server received through the TCP listeners.", "counter"),
    sluice_tcp_server_sent_bytes_total: family("Bytes a server sent through the TCP listeners.", "counter"),
    sluice_udp_sessions_active: family("Client sessions open on a UDP listener.", "gauge"),
    sluice_udp_datagrams_total: family("Datagrams through a UDP listener, by direction.", "counter"),
    sluice_udp_bytes_total: family("Bytes through a UDP listener, by direction.", "counter"),
    sluice_udp_dropped_total: family("Datagrams a UDP listener dropped, by reason.", "counter"),
  };

  f.sluice_uptime_seconds.samples.push([{}, Math.round((now - startedAt) / 1000)]);
  for (const { route, code, count } of http.entries()) f.sluice_http_requests_total.samples.push([{ route, code }, count]);

  for (const [poolName, pool] of snapshot.pools) {
    f.sluice_pool_queued.samples.push([{ pool: poolName }, pool.queued]);
    for (const s of pool.servers) {
      const labels = { pool: poolName, server: s.id };
      f.sluice_server_up.samples.push([labels, s.available(now) ? 1 : 0]);
      f.sluice_server_healthy.samples.push([labels, s.healthy ? 1 : 0]);
      f.sluice_server_weight.samples.push([labels, s.effectiveWeight(now)]);
      f.sluice_server_active.samples.push([labels, s.active]);
      f.sluice_server_requests_total.samples.push([labels, s.requests]);
      f.sluice_server_failures_total.samples.push([labels, s.failures]);
      f.sluice_server_latency_seconds.samples.push([labels, s.latencyEstimate(now) / 1000]);
    }
  }

  for (const l of httpListeners ?? []) {
    if (l.connections === undefined) continue;
    f.sluice_http_connections_active.samples.push([{ listener: l.address }, l.connections]);
    f.sluice_http_connections_refused_total.samples.push([{ listener: l.address }, l.refused ?? 0]);
  }
  for (const l of tcp?.listeners ?? []) {
    const labels = { listener: l.address };
    f.sluice_tcp_connections_active.samples.push([labels, l.active]);
    f.sluice_tcp_connections_total.samples.push([labels, l.accepted]);
    f.sluice_tcp_received_bytes_total.samples.push([labels, l.bytesIn]);
    f.sluice_tcp_sent_bytes_total.samples.push([labels, l.bytesOut]);
    for (const [reason, count] of Object.entries(l.errors)) f.sluice_tcp_errors_total.samples.push([{ ...labels, reason }, count]);
  }
  for (const [poolName, servers] of Object.entries(tcp?.servers ?? {})) {
    for (const [server, traffic] of Object.entries(servers)) {
      f.sluice_tcp_server_received_bytes_total.samples.push([{ pool: poolName, server }, traffic.bytesIn]);
      f.sluice_tcp_server_sent_bytes_total.samples.push([{ pool: poolName, server }, traffic.bytesOut]);
    }
  }

  for (const l of udp ?? []) {
    const labels = { listener: l.listen };
    f.sluice_udp_sessions_active.samples.push([labels, l.activeSessions]);
    for (const [direction, traffic] of [["received", l.received], ["forwarded", l.forwarded], ["replied", l.replied]] as const) {
      f.sluice_udp_datagrams_total.samples.push([{ ...labels, direction }, traffic.datagrams]);
      f.sluice_udp_bytes_total.samples.push([{ ...labels, direction }, traffic.bytes]);
    }
    for (const [reason, count] of Object.entries(l.dropped)) f.sluice_udp_dropped_total.samples.push([{ ...labels, reason }, count]);
  }
  return render(f);
}
