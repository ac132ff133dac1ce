// The dashboard's charts, drawn as inline SVG from the GET /history document: per route and per pool (and
// for the whole gateway) requests per second, error shares and latency percentiles; the upstream servers'
// states as a timeline of coloured bands; the TCP and UDP listeners' traffic. Like renderDashboard, one
// self-contained function: the admin listener calls it for the page's first paint, and the page's script
// carries its source text (`renderCharts.toString()`) to redraw from /history in the browser. So it refers to
// nothing outside itself and uses only syntax browsers run. Every name is escaped.
import type { HistoryDocument } from "../observability/history.ts";

export function renderCharts(history: HistoryDocument): string {
  const esc = (value: unknown): string => String(value ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  type Values = Array<number | null>;
  interface Line {
    name: string;
    label: string;
    color: string;
    values: Values;
  }
  const COLORS = {
    requests: "#2f5fd0",
    errors5xx: "#d93025",
    errors4xx: "#f29900",
    p50: "#1e8e3e",
    p95: "#9334e6",
    p99: "#e8710a",
    in: "#2f5fd0",
    out: "#1e8e3e",
    connections: "#2f5fd0",
    open: "#9334e6",
    dropped: "#d93025",
    forwarded: "#9334e6",
  };
  const STATE_COLORS: Record<string, string> = { up: "#34a853", down: "#d93025", drain: "#f9ab00", disabled: "#9aa0a6" };
  const end = history.now;
  const start = end - history.windowMs;
  const finite = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);

  /** A short number: 3 significant digits at most, without trailing zeros. */
  const short = (v: number): string => {
    const abs = Math.abs(v);
    const text = abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : v.toFixed(3);
    return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
  };
  const withUnit = (v: number, unit: string): string => {
    if (unit === "B/s") {
      const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
      let i = 0;
      while (Math.abs(v) >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
      }
      return `${short(v)} ${units[i]}`;
    }
    if (unit === "ms" && v >= 1000) return `${short(v / 1000)} s`;
    return unit === "%" ? `${short(v)}%` : unit === "" ? short(v) : `${short(v)} ${unit}`;
  };
  /** An axis tick: the unit is in the chart's caption, so only what scales it (KiB, s) or reads oddly without it (%). */
  const tick = (v: number, unit: string): string =>
    unit === "B/s" || unit === "%" || (unit === "ms" && v >= 1000) ? withUnit(v, unit).replace("/s", "") : short(v);
  /** A round top for the y axis: 1, 2 or 5 times a power of ten (of 1024 for bytes), at least `floor`. */
  const niceTop = (max: number, unit: string, floor: number): number => {
    const top = Math.max(max, floor);
    const base = unit === "B/s" && top >= 1024 ? 1024 ** Math.floor(Math.log(top) / Math.log(1024)) : 1;
    const scaled = top / base;
    const power = 10 ** Math.floor(Math.log10(scaled));
    const step = [1, 2, 5, 10].find((m) => m * power >= scaled)!;
    return step * power * base;
  };
  /** "-15m", "-7m30s", "-45s", "now": time before the right edge. */
  const ago = (ms: number): string => {
    const s = Math.round(ms / 1000);
    if (s === 0) return "now";
    const m = Math.floor(s / 60);
    return m > 0 ? `-${m}m${s % 60 ? `${s % 60}s` : ""}` : `-${s}s`;
  };
  const clock = (t: number): string => new Date(t).toISOString().slice(11, 19) + " UTC";

  // The plot's geometry, in the SVG's own units (it scales with the page).
  const W = 400,
    H = 170,
    LEFT = 46,
    RIGHT = 8,
    TOP = 10,
    BOTTOM = 24;
  const xOf = (t: number): number => LEFT + ((t - start) / (end - start)) * (W - LEFT - RIGHT);
  const xAxis = (height: number, left: number, width: number): string => {
    let out = "";
    for (let i = 0; i <= 3; i++) {
      const x = left + (i / 3) * (width - left - RIGHT);
      out +=
        `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${TOP}" y2="${height - BOTTOM}" class="grid"/>` +
        `<text x="${x.toFixed(1)}" y="${height - 8}" text-anchor="${i === 0 ? "start" : i === 3 ? "end" : "middle"}" class="tick">${esc(ago((1 - i / 3) * (end - start)))}</text>`;
    }
    return out;
  };

  /** A line chart: axes with ticks in `unit`, one polyline per run of values (a null breaks the line), a legend with the latest values. */
  const chart = (kind: string, title: string, unit: string, lines: Line[], floor = 1): string => {
    const times = history.times;
    let max = 0;
    for (const line of lines) for (const v of line.values) if (finite(v) && v > max) max = v;
    const top = niceTop(max, unit, floor);
    const yOf = (v: number): number => H - BOTTOM - (v / top) * (H - BOTTOM - TOP);
    let grid = "";
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4,
        y = yOf(v).toFixed(1);
      grid +=
        `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y}" y2="${y}" class="grid"/>` +
        `<text x="${LEFT - 4}" y="${y}" dy="3" text-anchor="end" class="tick">${esc(tick(v, unit))}</text>`;
    }
    const series = lines
      .map((line) => {
        const runs: string[][] = [];
        let run: string[] | undefined;
        line.values.forEach((v, i) => {
          const t = times[i];
          if (!finite(v) || t === undefined || t < start) return void (run = undefined);
          if (!run) runs.push((run = []));
          run.push(`${xOf(t).toFixed(1)},${yOf(v).toFixed(1)}`);
        });
        const shapes = runs
          .map((points) =>
            points.length === 1
              ? `<circle cx="${points[0]!.split(",")[0]}" cy="${points[0]!.split(",")[1]}" r="1.8" fill="${line.color}"/>`
              : `<polyline points="${points.join(" ")}" fill="none" stroke="${line.color}" stroke-width="1.6" stroke-linejoin="round" stroke-linecap="round"/>`,
          )
          .join("");
        const count = line.values.filter(finite).length;
        return `<g class="series" data-name="${esc(line.name)}" data-points="${count}" data-values="${line.values.map((v) => (finite(v) ? v : "")).join(",")}">${shapes}</g>`;
      })
      .join("");
    const legend = lines
      .map((line) => {
        const latest = [...line.values].reverse().find(finite);
        return (
          `<span class="key" data-name="${esc(line.name)}"><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${line.color}"/></svg>` +
          `${esc(line.label)} <b>${latest === undefined ? "—" : esc(withUnit(latest, unit))}</b></span>`
        );
      })
      .join("");
    return (
      `<figure class="chart" data-chart="${esc(kind)}"><figcaption><span class="title">${esc(title)}</span> <span class="unit">${esc(unit || "count")}</span>` +
      `<span class="legend">${legend}</span></figcaption>` +
      `<svg class="plot" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}, ${esc(unit)}, last ${esc(ago(end - start).slice(1))}">` +
      `${grid}${xAxis(H, LEFT, W)}<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${H - BOTTOM}" class="axis"/>` +
      `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${H - BOTTOM}" y2="${H - BOTTOM}" class="axis"/>${series}</svg></figure>`
    );
  };

  /** A row of charts under a heading; `group` and `name` are what the page's selector filters by. */
  const chartRow = (group: string, name: string, heading: string, charts: string): string =>
    `<div class="chart-row" data-group="${group}" data-name="${esc(name)}"><h3>${heading}</h3><div class="charts">${charts}</div></div>`;

  type HttpPoints = HistoryDocument["http"]["total"];
  const httpRow = (group: string, name: string, heading: string, p: HttpPoints): string =>
    chartRow(
      group,
      name,
      heading,
      chart("requests", "Requests", "req/s", [{ name: "requests", label: "requests", color: COLORS.requests, values: p.requests }]) +
        chart("errors", "Errors", "%", [
          { name: "errors5xx", label: "5xx", color: COLORS.errors5xx, values: p.errors5xx },
          { name: "errors4xx", label: "4xx", color: COLORS.errors4xx, values: p.errors4xx },
        ]) +
        chart("latency", "Latency", "ms", [
          { name: "p50", label: "p50", color: COLORS.p50, values: p.p50 },
          { name: "p95", label: "p95", color: COLORS.p95, values: p.p95 },
          { name: "p99", label: "p99", color: COLORS.p99, values: p.p99 },
        ]),
    );

  const routeName = (name: string): string => (name === "" ? '<span class="dim">no route</span>' : esc(name));
  const rows = [
    httpRow("total", "", "All requests", history.http.total),
    ...history.http.routes.map((r) => httpRow("route", r.name, `<span class="dim">route</span> ${routeName(r.name)}`, r.points)),
    ...history.http.pools.map((p) => httpRow("pool", p.name, `<span class="dim">pool</span> ${esc(p.name)}`, p.points)),
  ];
  const option = (value: string, label: string): string => `<option value="${esc(value)}">${esc(label)}</option>`;
  const filter =
    `<label class="filter">show <select id="chart-filter">${option("all", "everything")}${option("total", "all requests")}` +
    history.http.routes.map((r) => option(`route:${r.name}`, `route ${r.name === "" ? "(no route)" : r.name}`)).join("") +
    history.http.pools.map((p) => option(`pool:${p.name}`, `pool ${p.name}`)).join("") +
    `</select></label>`;
  const windowText = `last ${ago(history.windowMs).slice(1)} · a point every ${history.intervalMs >= 1000 ? `${history.intervalMs / 1000} s` : `${history.intervalMs} ms`}`;
  const waiting = history.times.length === 0 ? ` · <span class="warn">the first point comes after one interval</span>` : "";
  const traffic =
    `<section class="card" id="http-charts"><div class="card-head"><h2>HTTP traffic</h2><span class="meta">${esc(windowText)}` +
    `${waiting} · routes and pools appear with their first request</span>${filter}</div>${rows.join("")}</section>`;

  // The servers' states: one row of bands per server.
  const LABEL = 190,
    ROW = 20,
    TW = 1000;
  const servers = history.servers;
  const TH = TOP + servers.length * ROW + BOTTOM;
  const xOfBand = (t: number): number => LABEL + ((t - start) / (end - start)) * (TW - LABEL - RIGHT);
  const bandRows = servers
    .map((s, i) => {
      const y = TOP + i * ROW;
      const label = `${s.pool} / ${s.id}`;
      const bands = s.bands
        .map((b) => {
          const x1 = xOfBand(Math.max(b.from, start)),
            x2 = Math.max(xOfBand(Math.min(b.to, end)), x1 + 1.5);
          return (
            `<rect x="${x1.toFixed(1)}" y="${y + 3}" width="${(x2 - x1).toFixed(1)}" height="${ROW - 6}" fill="${STATE_COLORS[b.state] ?? "#5f6368"}" data-state="${esc(b.state)}">` +
            `<title>${esc(label)}: ${esc(b.state)} from ${clock(b.from)} to ${clock(b.to)}</title></rect>`
          );
        })
        .join("");
      return (
        `<g class="server" data-pool="${esc(s.pool)}" data-id="${esc(s.id)}"><text x="${LABEL - 8}" y="${y + ROW / 2 + 4}" text-anchor="end" class="label">` +
        `${esc(label.length > 30 ? label.slice(0, 29) + "…" : label)}<title>${esc(label)}</title></text>${bands}</g>`
      );
    })
    .join("");
  const stateLegend = Object.entries(STATE_COLORS)
    .map(
      ([state, color]) =>
        `<span class="key"><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${color}"/></svg>${state}</span>`,
    )
    .join("");
  const timeline =
    `<section class="card" id="state-timeline"><div class="card-head"><h2>Server states</h2><span class="meta">${esc(windowText)}</span>` +
    `<span class="legend">${stateLegend}</span></div>` +
    (servers.length === 0
      ? `<p class="dim">No upstream servers.</p>`
      : `<svg class="timeline" viewBox="0 0 ${TW} ${TH}" role="img" aria-label="server states over the ${esc(ago(end - start).slice(1))}">` +
        `${xAxis(TH, LABEL, TW)}${bandRows}</svg>`) +
    `</section>`;

  // The TCP and UDP listeners: one section each, a row of charts per listener.
  const throughput = (p: { bytesIn: Values; bytesOut: Values }): string =>
    chart(
      "bytes",
      "Throughput",
      "B/s",
      [
        { name: "bytesIn", label: "from clients", color: COLORS.in, values: p.bytesIn },
        { name: "bytesOut", label: "to clients", color: COLORS.out, values: p.bytesOut },
      ],
      1024,
    );
  const listenerSection = <P>(group: string, title: string, listeners: Array<{ listener: string; points: P }>, charts: (p: P) => string): string =>
    listeners.length === 0
      ? ""
      : `<section class="card" id="${group}-charts"><div class="card-head"><h2>${title}</h2><span class="meta">${esc(windowText)}</span></div>` +
        listeners.map((l) => chartRow(group, l.listener, `<span class="dim">listener</span> ${esc(l.listener)}`, charts(l.points))).join("") +
        `</section>`;
  const tcp = listenerSection(
    "tcp",
    "TCP listeners traffic",
    history.tcp,
    (p) =>
      chart("connections", "New connections", "conn/s", [{ name: "connections", label: "accepted", color: COLORS.connections, values: p.connections }]) +
      chart("open", "Open connections", "", [{ name: "open", label: "open", color: COLORS.open, values: p.open }]) +
      throughput(p),
  );
  const udp = listenerSection(
    "udp",
    "UDP listeners traffic",
    history.udp,
    (p) =>
      chart("datagrams", "Datagrams", "dgram/s", [
        { name: "received", label: "received", color: COLORS.in, values: p.received },
        { name: "forwarded", label: "forwarded", color: COLORS.forwarded, values: p.forwarded },
        { name: "replied", label: "replied", color: COLORS.out, values: p.replied },
        { name: "dropped", label: "dropped", color: COLORS.dropped, values: p.dropped },
      ]) +
      throughput(p) +
      chart("sessions", "Sessions", "", [{ name: "sessions", label: "open", color: COLORS.open, values: p.sessions }]),
  );

  return traffic + timeline + tcp + udp;
}
