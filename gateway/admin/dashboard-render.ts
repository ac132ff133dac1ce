// The dashboard's body, rendered from a /status document. One function, self-contained on purpose: the
// admin listener calls it to render GET / on the server, and the page's script carries its source text
// (`renderDashboard.toString()`) to render each refresh from /status in the browser. So it must not refer to
// anything outside itself (no imports, no module-level helpers) and must use only syntax browsers run.
// Every value is escaped: pool names are checked, but server ids and route names are any string in the config.
import type { ListenerInfo, PoolStatus } from "./status.ts";
import type { TcpStats } from "../l4/tcp-listeners.ts";
import type { UdpListenerStats } from "../l4/udp-listener.ts";
import type { ReloadStatus } from "../reload-result.ts";
import { renderReloadLine } from "./reload-view.ts";
import type { WorkerEntry } from "../workers/merged-status.ts";
import { renderWorkers } from "./dashboard-workers.ts";

/** The parts of the /status document (statusDocument) the dashboard shows. */
export interface DashboardStatus {
  uptimeSeconds: number;
  pools: Record<string, PoolStatus>;
  routes: Array<{ name: string; kind: string; pool?: string }>;
  listeners: ListenerInfo[];
  tcp?: TcpStats;
  udp?: UdpListenerStats[];
  reload?: ReloadStatus;
  /** With `--workers`: every process (dashboard-workers.ts draws them). */
  workers?: WorkerEntry[];
}

export function renderDashboard(status: DashboardStatus): string {
  const esc = (value: unknown): string => String(value ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const num = (n: number): string => esc(Number(n).toLocaleString("en-US"));
  const bytes = (n: number): string => {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `<span title="${num(n)} bytes">${esc(i === 0 ? String(v) : v.toFixed(1))} ${units[i]}</span>`;
  };
  const duration = (seconds: number): string => {
    const d = Math.floor(seconds / 86400),
      h = Math.floor((seconds % 86400) / 3600),
      m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m ${s}s` : m > 0 ? `${m}m ${s}s` : `${s}s`;
  };
  const none = '<span class="dim">—</span>';
  const CHARTS_SLOT = '<div id="charts-slot"></div>';
  /** Non-zero counters of a reasons record, e.g. "connectFailures 2, noServer 1". */
  const reasons = (counts: object): string => {
    const entries = Object.entries(counts) as Array<[string, number]>;
    const parts = entries.filter(([, n]) => n > 0).map(([k, n]) => `${esc(k)} ${num(n)}`);
    const total = entries.reduce((a, [, n]) => a + n, 0);
    return total > 0 ? `<span class="bad">${num(total)}</span> <span class="dim small">${parts.join(", ")}</span>` : "0";
  };
  const table = (head: string[], rows: string[], numeric: number[] = [], className = ""): string =>
    `<table class="${className}"><thead><tr>${head.map((h, i) => `<th${numeric.includes(i) ? ' class="num"' : ""}>${h}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.length ? rows.join("") : `<tr><td colspan="${head.length}" class="dim">none</td></tr>`}</tbody></table>`;
  const cells = (values: string[], numeric: number[] = []): string =>
    `<tr>${values.map((v, i) => `<td${numeric.includes(i) ? ' class="num"' : ""}>${v}</td>`).join("")}</tr>`;

  const serverRow = (pool: string, s: PoolStatus["servers"][number]): string => {
    const check = s.lastCheck;
    const checkText = !check
      ? none
      : `<span class="${check.ok ? "good" : "bad"}" title="${esc(check.at)}">${check.ok ? "ok" : "failed"}</span>` +
        (check.status !== undefined ? ` ${esc(check.status)}` : "") +
        ` <span class="dim">${esc(check.durationMs)} ms</span>` +
        (check.reason ? `<div class="small reason">${esc(check.reason)}</div>` : "");
    // The admin actions that would change something: drain and disable an up server, and so on.
    const current = { up: "enable", drain: "drain", disabled: "disable" }[s.adminState];
    const buttons = ["drain", "disable", "enable"]
      .filter((a) => a !== current)
      .map((a) => `<button type="button" data-pool="${esc(pool)}" data-id="${esc(s.id)}" data-action="${a}">${a}</button>`);
    return cells(
      [
        `<span class="id">${esc(s.id)}</span>${s.backup ? ' <span class="tag">backup</span>' : ""}`,
        `<span class="target">${esc(s.target)}</span>`,
        `<span class="state state-${esc(s.state)}" data-state="${esc(s.state)}">${esc(s.state)}</span>` +
          (s.state === "down" && s.adminState === "drain" ? ' <span class="dim small">(drain)</span>' : ""),
        s.healthy ? '<span class="good">yes</span>' : '<span class="bad">no</span>',
        `${esc(s.weight)} <span class="dim">/ ${esc(s.configuredWeight)}</span>` +
          (s.adminWeight !== null ? ` <span class="tag" title="set by the admin API">set ${esc(s.adminWeight)}</span>` : ""),
        s.maxConns > 0 ? `${num(s.active)} <span class="dim">/ ${num(s.maxConns)}</span>` : num(s.active),
        num(s.requests),
        s.failures > 0 ? `<span class="bad">${num(s.failures)}</span>` : "0",
        s.latencyMs > 0 ? esc(s.latencyMs.toFixed(1)) : none,
        s.load === null ? none : esc(s.load),
        checkText,
        `<div class="actions">${buttons.join("")}</div>`,
      ],
      [5, 6, 7, 8, 9],
    );
  };

  const pools = Object.entries(status.pools).map(([name, pool]) => {
    const up = pool.servers.filter((s) => s.state === "up").length;
    return (
      `<section class="card pool" data-pool="${esc(name)}"><div class="card-head"><h2>${esc(name)}</h2>` +
      `<span class="meta">${esc(pool.mode)} · ${esc(pool.balance)} · ${up}/${pool.servers.length} up · queued ` +
      `<span class="${pool.queued > 0 ? "warn" : ""}">${num(pool.queued)}</span></span></div>` +
      table(
        ["server", "target", "state", "healthy", "weight", "active", "requests", "failures", "latency ms", "load", "last check", ""],
        pool.servers.map((s) => serverRow(name, s)),
        [5, 6, 7, 8, 9],
        "servers",
      ) +
      `</section>`
    );
  });

  const routes = table(
    ["route", "kind", "pool"],
    status.routes.map((r) => cells([`<span class="id">${esc(r.name)}</span>`, esc(r.kind), r.pool ? esc(r.pool) : none])),
  );
  const listeners = table(
    ["kind", "address"],
    status.listeners.map((l) => cells([esc(l.kind), `<span class="target">${esc(l.address)}</span>`])),
  );

  const tcp =
    status.tcp && status.tcp.listeners.length > 0
      ? `<section class="card"><div class="card-head"><h2>TCP listeners</h2></div>` +
        table(
          ["address", "pool", "active", "accepted", "bytes in", "bytes out", "errors"],
          status.tcp.listeners.map((l) =>
            cells(
              [
                `<span class="target">${esc(l.address)}</span>`,
                l.pool
                  ? esc(l.pool)
                  : l.sni
                    ? `<span class="dim">sni:</span> ${Object.entries(l.sni)
                        .map(([host, pool]) => `${esc(host)} → ${esc(pool)}`)
                        .join(", ")}`
                    : none,
                l.maxConns > 0 ? `${num(l.active)} <span class="dim">/ ${num(l.maxConns)}</span>` : num(l.active),
                num(l.accepted),
                bytes(l.bytesIn),
                bytes(l.bytesOut),
                reasons(l.errors),
              ],
              [2, 3, 4, 5],
            ),
          ),
          [2, 3, 4, 5],
        ) +
        `</section>`
      : "";
  const udp =
    status.udp && status.udp.length > 0
      ? `<section class="card"><div class="card-head"><h2>UDP listeners</h2></div>` +
        table(
          ["address", "pool", "sessions", "received", "forwarded", "replied", "dropped"],
          status.udp.map((l) =>
            cells(
              [
                `<span class="target">${esc(l.listen)}</span>`,
                esc(l.pool),
                `${num(l.activeSessions)} <span class="dim">/ ${num(l.maxSessions)}</span>`,
                ...[l.received, l.forwarded, l.replied].map((t) => `${num(t.datagrams)} <span class="dim small">(${bytes(t.bytes)})</span>`),
                reasons(l.dropped),
              ],
              [2, 3, 4, 5],
            ),
          ),
          [2, 3, 4, 5],
        ) +
        `</section>`
      : "";

  const servers = Object.values(status.pools).flatMap((p) => p.servers);
  const summary = [
    ["uptime", `<span id="uptime">${esc(duration(status.uptimeSeconds))}</span>`],
    ["pools", num(Object.keys(status.pools).length)],
    ["servers up", `${num(servers.filter((s) => s.state === "up").length)} <span class="dim">/ ${num(servers.length)}</span>`],
    ["routes", num(status.routes.length)],
    ["listeners", num(status.listeners.length)],
  ]
    .map(([label, value]) => `<div class="figure"><div class="label">${label}</div><div class="value">${value}</div></div>`)
    .join("");

  // The page's sections, in order: add one here. The charts (dashboard-charts.ts) are drawn from /history on
  // their own schedule: the page moves them into their slot after each render.
  const sections = [
    renderReloadLine(status.reload),
    `<div class="summary">${summary}</div>`,
    CHARTS_SLOT,
    renderWorkers(status.workers),
    pools.length ? pools.join("") : `<section class="card"><p class="dim">No pools configured.</p></section>`,
    `<div class="grid"><section class="card"><div class="card-head"><h2>Routes</h2></div>${routes}</section>` +
      `<section class="card"><div class="card-head"><h2>Listeners</h2></div>${listeners}</section></div>`,
    tcp,
    udp,
  ];
  return sections.join("");
}
