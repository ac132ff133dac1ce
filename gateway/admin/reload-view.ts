// The dashboard's line about the config: when the running one was loaded, and whether the last reload failed
// (with its problems). Self-contained like renderDashboard, which calls it: the page's script carries this
// function's source text too, so it refers to nothing outside itself and escapes every value it shows.
import type { ReloadStatus } from "../reload-result.ts";

export function renderReloadLine(reload: ReloadStatus | undefined): string {
  if (!reload) return "";
  const esc = (value: unknown): string => String(value ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const time = (iso: string): string => `<time datetime="${esc(iso)}">${esc(iso.replace("T", " ").slice(0, 19))} UTC</time>`;
  const last = reload.lastAttempt;
  const loaded = `config loaded ${time(reload.lastSuccessAt)}`;
  const counts = `<span class="dim small">· reloads: ${esc(reload.total.success)} ok, ${esc(reload.total.failure)} failed</span>`;
  if (!last || last.success) return `<p class="reload-line" data-reload="ok">${loaded} ${counts}</p>`;
  const problems = last.problems.map((line) => `<li>${esc(line)}</li>`).join("");
  return (
    `<p class="reload-line" data-reload="failed"><span class="bad">last reload failed</span> ${time(last.at)} ` +
    `<span class="dim">(${esc(last.trigger)}); the running ${loaded}</span> ${counts}</p><ul class="reload-problems small reason">${problems}</ul>`
  );
}
