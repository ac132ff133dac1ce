// GET / on the admin listener: one self-contained HTML page (inline CSS, SVG and script, nothing fetched from
// elsewhere, so the compiled binary serves it whole) showing charts of the last 15 minutes (from /history),
// pools and servers, routes, listeners and the TCP/UDP figures. Rendered on the server, charts included, so
// it shows data without JavaScript; its script then reloads /status every 2 s and /history every sample
// interval (at most 5 s) and re-renders with the same functions, and its buttons drain, disable and enable
// servers through the POST endpoints.
//
// With an admin token, GET / needs it like /status does: as `Authorization: Bearer <token>`, or — since a
// browser cannot add that header to a page it navigates to — as `?token=<token>` (this page only; the rest
// of the API takes the header alone). The page's script passes the token on as a Bearer header to its own
// /status, /history and POST requests, never in a URL. The page sends no Referer, loads nothing from
// elsewhere, may not be framed (its buttons cannot be clickjacked) and is not cached; the token does stay in
// the browser's history, as with any URL that carries it.
import type { Context } from "hono";
import { timingSafeEqual } from "./timing-safe.ts";
import { renderDashboard, type DashboardStatus } from "./dashboard-render.ts";
import { renderWorkers } from "./dashboard-workers.ts";
import { renderCharts } from "./dashboard-charts.ts";
import type { HistoryDocument } from "../observability/history.ts";
import { renderReloadLine } from "./reload-view.ts";

export interface DashboardDeps {
  token: string | undefined;
  /** The /status document (with `--workers`, a promise: the workers are asked). */
  status(): unknown | Promise<unknown>;
  /** The /history document, when the gateway keeps one: the charts. */
  history?(): unknown;
}

/** The handler for GET / (registered after the admin app's Host check, before its token check). */
export function dashboardHandler(deps: DashboardDeps): (c: Context) => Response | Promise<Response> {
  return async (c) => {
    if (deps.token && !authorized(c, deps.token)) {
      return c.html(UNAUTHORIZED, 401, { "www-authenticate": 'Bearer realm="sluice"', ...HEADERS });
    }
    const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(18))));
    return c.html(page((await deps.status()) as DashboardStatus, deps.history?.() as HistoryDocument | undefined, nonce), 200, {
      ...HEADERS,
      "content-security-policy":
        `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
        `connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    });
  };
}

const HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

function authorized(c: Context, token: string): boolean {
  const header = timingSafeEqual(c.req.header("authorization") ?? "", `Bearer ${token}`);
  const query = c.req.query("token");
  return header || (query !== undefined && timingSafeEqual(query, token));
}

const UNAUTHORIZED = `<!doctype html><meta charset="utf-8"><title>Sluice admin</title>
<p>Admin token required: open <code>/?token=&lt;token&gt;</code>, or send <code>Authorization: Bearer &lt;token&gt;</code>.</p>\n`;

// The renderer's source, shipped to the browser. It is compiled JavaScript at run time (Bun and Deno strip
// the types); guard against text that would end the inline script early.
const RENDER_SOURCE = renderDashboard.toString();
const WORKERS_SOURCE = renderWorkers.toString();
const RELOAD_LINE_SOURCE = renderReloadLine.toString();
const CHARTS_SOURCE = renderCharts.toString();
if (/<\/script|<!--/i.test(RENDER_SOURCE + WORKERS_SOURCE + RELOAD_LINE_SOURCE + CHARTS_SOURCE)) {
  throw new Error("dashboard renderer source cannot be inlined in a <script>");
}

/** Where renderDashboard leaves room for the charts. */
const CHARTS_SLOT = '<div id="charts-slot"></div>';

const SCRIPT = `
const renderReloadLine = (${RELOAD_LINE_SOURCE});
const renderWorkers = (${WORKERS_SOURCE});
const render = (${RENDER_SOURCE});
const token = new URLSearchParams(location.search).get("token");
const auth = token ? { authorization: "Bearer " + token } : {};
const main = document.getElementById("dash");
const note = document.getElementById("note");
const say = (text, ok) => { note.textContent = text; note.className = ok ? "note" : "note bad"; };
// The charts keep their own element: each render of the tables puts it back into its slot.
const charts = document.getElementById("charts");
const placeCharts = () => { if (charts) main.querySelector("#charts-slot")?.replaceWith(charts); };
let busy = false, again = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const res = await fetch("/status", { headers: auth, cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    main.innerHTML = render(await res.json());
    placeCharts();
    main.dataset.source = "live";
    say("live · updated " + new Date().toLocaleTimeString("en-GB"), true);
  } catch (error) {
    say("refresh failed: " + error.message, false);
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}
setInterval(refresh, 2000);
if (charts) {
  const draw = (${CHARTS_SOURCE});
  // Which HTTP rows the selector shows: "all", "total", "route:NAME" or "pool:NAME"; kept across redraws.
  let shown = "all";
  const applyFilter = () => {
    const select = charts.querySelector("#chart-filter");
    if (!select) return;
    if (![...select.options].some((o) => o.value === shown)) shown = "all";
    select.value = shown;
    for (const row of charts.querySelectorAll("#http-charts .chart-row")) {
      const key = row.dataset.group === "total" ? "total" : row.dataset.group + ":" + row.dataset.name;
      row.hidden = shown !== "all" && shown !== key;
    }
  };
  charts.addEventListener("change", (event) => {
    if (event.target.id !== "chart-filter") return;
    shown = event.target.value;
    applyFilter();
  });
  let drawing = false;
  async function redraw() {
    if (drawing) return;
    drawing = true;
    try {
      const res = await fetch("/history", { headers: auth, cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      const history = await res.json();
      charts.innerHTML = draw(history);
      charts.dataset.source = "live";
      charts.dataset.updated = String(history.now);
      applyFilter();
    } catch (error) {
      say("charts refresh failed: " + error.message, false);
    } finally {
      drawing = false;
    }
  }
  setInterval(redraw, Math.min(Math.max(Number(charts.dataset.interval) || 5000, 1000), 5000));
}
main.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const { pool, id, action } = button.dataset;
  if (action !== "enable" && !confirm(action + " server \\"" + id + "\\" of pool \\"" + pool + "\\"?")) return;
  button.disabled = true;
  try {
    const res = await fetch("/pools/" + encodeURIComponent(pool) + "/servers/" + encodeURIComponent(id) + "/" + action, { method: "POST", headers: auth });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || "HTTP " + res.status);
  } catch (error) {
    say(action + " failed: " + error.message, false);
  }
  refresh();
});
`;

const STYLE = `
:root { --bg: #f5f6f8; --card: #fff; --line: #e3e6ea; --text: #1d2330; --dim: #6b7280; --accent: #2f5fd0;
  --up: #137333; --up-bg: #e6f4ea; --down: #b3261e; --down-bg: #fce8e6; --drain: #8a5a00; --drain-bg: #fef3d6;
  --off: #5f6368; --off-bg: #eceef1; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: baseline; gap: 12px; padding: 14px 24px; background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; letter-spacing: .02em; }
header .sub { color: #aab2c0; }
.note { margin-left: auto; color: #9fd8ae; font-size: 13px; }
.note.bad { color: #ffb4ab; }
main { padding: 20px 24px 32px; max-width: 1400px; }
.summary { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }
.figure { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 16px; min-width: 120px; }
.figure .label { color: var(--dim); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.figure .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin-bottom: 16px; overflow-x: auto; }
.card-head { display: flex; align-items: baseline; gap: 12px; padding: 10px; border-bottom: 1px solid var(--line); }
.card-head h2 { margin: 0; font-size: 15px; font-weight: 600; }
.card > p { padding: 10px; margin: 0; }
.meta { color: var(--dim); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 16px; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 600; font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--dim);
  padding: 6px 10px; background: #fafbfc; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:hover { background: #fafbfd; }
/* The same columns in every pool's table, so that they line up; "last check" takes what is left. */
table.servers { table-layout: fixed; min-width: 1200px; }
table.servers td { overflow-wrap: anywhere; }
table.servers th:nth-child(1) { width: 130px; } table.servers th:nth-child(2) { width: 200px; }
table.servers th:nth-child(3) { width: 104px; } table.servers th:nth-child(4) { width: 66px; }
table.servers th:nth-child(5) { width: 76px; } table.servers th:nth-child(6) { width: 60px; }
table.servers th:nth-child(7) { width: 80px; } table.servers th:nth-child(8) { width: 72px; }
table.servers th:nth-child(9) { width: 96px; } table.servers th:nth-child(10) { width: 56px; }
table.servers th:nth-child(12) { width: 128px; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.id { font-weight: 600; }
.target { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.dim { color: var(--dim); }
.small { font-size: 12px; }
.reason { color: var(--down); max-width: 280px; }
.good { color: var(--up); }
.bad { color: var(--down); font-weight: 600; }
.warn { color: var(--drain); font-weight: 600; }
.tag { font-size: 11px; padding: 1px 6px; border-radius: 4px; background: var(--off-bg); color: var(--off); }
.state { display: inline-block; white-space: nowrap; min-width: 70px; padding: 1px 9px; border-radius: 10px; font-size: 12px; font-weight: 600; text-align: center; }
.state::before { content: "● "; }
.state-up { color: var(--up); background: var(--up-bg); }
.state-down { color: var(--down); background: var(--down-bg); }
.state-drain { color: var(--drain); background: var(--drain-bg); }
.state-disabled { color: var(--off); background: var(--off-bg); }
.actions { display: flex; gap: 4px; justify-content: flex-end; }
button { white-space: nowrap; font: inherit; font-size: 12px; padding: 1px 7px; border: 1px solid var(--line); border-radius: 5px; background: #fff; color: var(--accent); cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { color: #b0b5bd; cursor: default; background: #f7f8f9; }
/* Charts (dashboard-charts.ts): inline SVG, three to a row. */
.chart-row { padding: 8px 10px 4px; border-bottom: 1px solid var(--line); }
.chart-row:last-child { border-bottom: 0; }
.chart-row h3 { margin: 0 0 4px; font-size: 13px; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 4px 16px; }
.chart { margin: 0; min-width: 0; }
.chart figcaption { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 8px; font-size: 12px; }
.chart .title { font-weight: 600; }
.chart .unit { color: var(--dim); }
.legend { display: flex; flex-wrap: wrap; gap: 2px 10px; margin-left: auto; font-size: 12px; color: var(--dim); }
.legend b { color: var(--text); font-weight: 600; font-variant-numeric: tabular-nums; }
.key { display: inline-flex; align-items: center; gap: 4px; white-space: nowrap; }
.swatch { width: 10px; height: 10px; flex: none; }
svg.plot, svg.timeline { display: block; width: 100%; height: auto; }
svg .grid { stroke: #edf0f3; stroke-width: 1; }
svg .axis { stroke: #b8bec7; stroke-width: 1; }
svg .tick { fill: var(--dim); font-size: 10px; font-variant-numeric: tabular-nums; }
svg .label { fill: var(--text); font-size: 11px; }
.filter { margin-left: auto; color: var(--dim); font-size: 12px; }
.filter select { font: inherit; font-size: 12px; margin-left: 4px; }
#state-timeline svg.timeline { padding: 4px 10px 0; }
`;

function page(status: DashboardStatus, history: HistoryDocument | undefined, nonce: string): string {
  const charts = history
    ? `<div id="charts" data-source="server" data-interval="${history.intervalMs}" data-updated="${history.now}">${renderCharts(history)}</div>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice admin</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>Sluice</h1><span class="sub">admin dashboard</span><span id="note" class="note">rendered ${new Date().toISOString().slice(11, 19)} UTC</span></header>
<main id="dash" data-source="server">${renderDashboard(status).replace(CHARTS_SLOT, charts)}</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}
