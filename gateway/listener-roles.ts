// What each HTTP listener is besides its address: plain HTTP, HTTPS (with the fields every answer on it carries:
// Strict-Transport-Security), or a plain listener that only redirects to HTTPS. What a listener is stays as it
// was at start, like its address (a change needs a restart); a reload changes its HSTS value and its redirect's
// status and port.
import type { HttpListenerSettings } from "./config/http-listeners.ts";
import { setHsts, type AnswerFields } from "./http/answer-fields.ts";
import { HttpsRedirect } from "./http/https-redirect.ts";

export type ListenerKind = "http" | "https" | "https-redirect";

export class ListenerRole {
  /** The listen address as the config writes it: what a reload's entry is matched by. */
  readonly address: string;
  readonly kind: ListenerKind;
  /** An HTTPS listener's fields for every answer (HSTS, when configured); undefined on plain listeners. */
  readonly answerFields: AnswerFields | undefined;
  /** A redirect listener's answer; undefined for the others. */
  redirect: HttpsRedirect | undefined;

  constructor(settings: HttpListenerSettings, tls: boolean) {
    this.address = settings.address;
    this.kind = tls ? "https" : settings.redirect ? "https-redirect" : "http";
    this.answerFields = tls ? { lines: "", replaces: "" } : undefined;
    // A first answer until every listener is open and the default port is known (see applyRoles).
    if (settings.redirect) this.redirect = new HttpsRedirect(settings.redirect.status, settings.redirect.port ?? 443);
  }

  /** What /status and the dashboard say of a redirect listener: where it sends clients. */
  get redirectsTo(): { status: number; port: number } | undefined {
    return this.redirect && { status: this.redirect.status, port: this.redirect.port };
  }
}

/**
 * The config's settings applied to the roles of the running listeners (`ports`: the port each listens on), each
 * to the entry of its address (the n-th listener of an address to its n-th entry: ":0" may be written twice). A
 * redirect without a port goes to the first HTTPS listener's, or to 443 when there is none. Returns a line for
 * each setting that only a restart can apply.
 */
export function applyRoles(roles: readonly ListenerRole[], settings: readonly HttpListenerSettings[], ports: readonly number[]): string[] {
  const problems: string[] = [];
  const firstHttps = roles.findIndex((r) => r.kind === "https");
  const defaultPort = firstHttps >= 0 ? ports[firstHttps]! : 443;
  const seen = new Map<string, number>();
  roles.forEach((role) => {
    const n = seen.get(role.address) ?? 0;
    seen.set(role.address, n + 1);
    const entry = settings.filter((s) => s.address === role.address)[n];
    if (!entry) return;
    if (role.answerFields) setHsts(role.answerFields, entry.hsts);
    if (role.kind === "https-redirect" && entry.redirect) {
      const { status, port = defaultPort } = entry.redirect;
      if (role.redirect?.status !== status || role.redirect.port !== port) role.redirect = new HttpsRedirect(status, port);
    } else if ((role.kind === "https-redirect") !== (entry.redirect !== undefined)) {
      problems.push(`${entry.address}: redirect ${entry.redirect ? "added to" : "removed from"} a listener: restart to apply it`);
    }
  });
  return problems;
}
