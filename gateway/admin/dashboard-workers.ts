// The dashboard's table of gateway processes with `--workers`: each one's number, pid, state, uptime, what it
// served, its open connections, restarts, and the servers it holds out of rotation on its own (passive failures)
// or that are out everywhere. Self-contained like renderDashboard, which calls it: the page's script carries this
// function's source text too, so it refers to nothing outside itself and escapes every value it shows.
import type { WorkerEntry } from "../workers/merged-status.ts";

export function renderWorkers(workers: readonly WorkerEntry[] | undefined): string {
  if (!workers || workers.length === 0) return "";
  const esc = (value: unknown): string => String(value ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const num = (n: number): string => esc(Number(n).toLocaleString("en-US"));
  const none = '<span class="dim">—</span>';
  const duration = (seconds: number): string => {
    const h = Math.floor(seconds / 3600),
      m = Math.floor((seconds % 3600) / 60),
      s = seconds % 60;
    return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
  };
  const rows = workers.map((w) => {
    const name = w.worker === 0 ? "primary" : `worker ${esc(w.worker)}`;
    const stateClass = w.state === "up" ? "good" : w.state === "gone" ? "bad" : "warn";
    const state =
      `<span class="${stateClass}" data-state="${esc(w.state)}">${esc(w.state)}</span>` +
      (w.state === "gone" ? ` <span class="dim small">(${esc(w.exit)})</span>` : "");
    const up = w.state === "up" ? w : undefined;
    const out = up
      ? Object.entries(up.pools).flatMap(([pool, p]) =>
          p.servers.filter((s) => s.state !== "up").map((s) => `${esc(pool)}/<span class="id">${esc(s.id)}</span> ${esc(s.state)}`),
        )
      : [];
    return (
      `<tr data-worker="${esc(w.worker)}"><td>${name}</td><td class="num">${w.pid === undefined ? none : esc(w.pid)}</td><td>${state}</td>` +
      `<td class="num">${up ? esc(duration(up.uptimeSeconds)) : none}</td><td class="num">${up ? num(up.requests) : none}</td>` +
      `<td class="num">${up ? num(up.connections) : none}</td><td class="num">${w.restarts === undefined ? none : num(w.restarts)}</td>` +
      `<td>${out.length > 0 ? out.join(", ") : up ? '<span class="dim">none</span>' : none}</td></tr>`
    );
  });
  return (
    `<section class="card workers"><div class="card-head"><h2>Processes</h2>` +
    `<span class="meta">${num(workers.filter((w) => w.state === "up").length)}/${num(workers.length)} up</span></div>` +
    `<table><thead><tr><th>process</th><th class="num">pid</th><th>state</th><th class="num">uptime</th>` +
    `<th class="num">requests</th><th class="num">connections</th><th class="num">restarts</th><th>servers out</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></section>`
  );
}
