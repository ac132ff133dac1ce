// What the primary and its `--workers` processes say to each other over the channel (channel.ts), one JSON
// object per line. The primary asks (figures for /metrics, a process view for /status, an admin change to
// apply) and each question gets one answer; it also pushes the servers' shared state: whole when a worker
// joins, one server at a time when an active health check flips it. Every message is checked for its shape
// before it is used: a malformed one is dropped, and the connection closed.
import { STATE_ACTIONS, type StateAction } from "../admin/server-actions.ts";
import type { Figures } from "../observability/exposition.ts";
import type { AdminState, CheckResult } from "../pool/server-state.ts";
import type { ProcessView } from "./process-view.ts";

/** An operator's change to one server, as the admin API takes it (admin/server-actions.ts applies it). */
export type ServerChange = { pool: string; server: string; action: StateAction } | { pool: string; server: string; action: "weight"; weight: number };

/** What the primary asks a worker. */
export type Question = { what: "figures" } | { what: "view" } | { what: "change"; change: ServerChange };

/** A worker's answer to a change: applied, or why not (no such pool or server in its snapshot). */
export type ChangeOutcome = { applied: true } | { applied: false; error: string };

const isSample = (s: unknown): boolean =>
  Array.isArray(s) && s.length === 3 && typeof s[0] === "string" && Array.isArray(s[1]) && s[1].every((l) => typeof l === "string") && typeof s[2] === "number";

/** A worker's answer to "figures": families of samples, each `[suffix, labels, value]`. */
export function asFigures(v: unknown): Figures | undefined {
  return isObject(v) && Object.values(v).every((samples) => Array.isArray(samples) && samples.every(isSample)) ? (v as Figures) : undefined;
}

/** A worker's answer to "view": the parts merged into /status checked, the rest shown as it came. */
export function asProcessView(v: unknown): ProcessView | undefined {
  if (!isObject(v) || !isCount(v.worker) || !isCount(v.pid) || typeof v.requests !== "number" || !Array.isArray(v.listeners) || !isObject(v.pools))
    return undefined;
  const listenersOk = v.listeners.every(
    (l) => isObject(l) && typeof l.address === "string" && typeof l.connections === "number" && typeof l.refused === "number",
  );
  const poolsOk = Object.values(v.pools).every(
    (p) =>
      isObject(p) &&
      typeof p.queued === "number" &&
      Array.isArray(p.servers) &&
      p.servers.every(
        (s) =>
          isObject(s) &&
          typeof s.id === "string" &&
          typeof s.state === "string" &&
          typeof s.active === "number" &&
          typeof s.requests === "number" &&
          typeof s.failures === "number" &&
          typeof s.latencyMs === "number",
      ),
  );
  return listenersOk && poolsOk ? (v as unknown as ProcessView) : undefined;
}

export function asChangeOutcome(v: unknown): ChangeOutcome | undefined {
  if (!isObject(v)) return undefined;
  if (v.applied === true) return { applied: true };
  if (v.applied === false) return { applied: false, error: String(v.error) };
  return undefined;
}

/** One server's state as the primary holds it: what every worker follows instead of checking on its own. */
export interface SharedServerState {
  pool: string;
  id: string;
  /** With the id, tells a server from a namesake with another address (a reload or DNS may change it). */
  target: string;
  /** The primary's active health verdict. */
  healthy: boolean;
  /** The primary's last check of the server, shown by the worker too. */
  check?: CheckResult;
  /** The operator's changes: only in the whole state a joining worker is sent. */
  adminState?: AdminState;
  weight?: number;
}

/**
 * Primary → worker. `whole`: the state of every server, replacing what the worker kept (sent when it joins, with
 * the operator's changes, and after each reload of the primary, health only); else the servers a check flipped.
 */
export type ToWorker = { ask: number; question: Question } | { servers: SharedServerState[]; whole: boolean };
/** Worker → primary: the first line, then answers. */
export type Hello = { hello: string; worker: number; pid: number };
export type ToPrimary = { answer: number; value: unknown };

const ADMIN_STATES: readonly string[] = ["up", "drain", "disabled"];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

export function asHello(v: unknown): Hello | undefined {
  return isObject(v) && typeof v.hello === "string" && isCount(v.worker) && isCount(v.pid) ? (v as Hello) : undefined;
}

export function asToPrimary(v: unknown): ToPrimary | undefined {
  return isObject(v) && isCount(v.answer) && "value" in v ? (v as ToPrimary) : undefined;
}

function asServerChange(v: unknown): ServerChange | undefined {
  if (!isObject(v) || typeof v.pool !== "string" || typeof v.server !== "string") return undefined;
  if ((STATE_ACTIONS as readonly unknown[]).includes(v.action)) return { pool: v.pool, server: v.server, action: v.action as StateAction };
  if (v.action === "weight" && typeof v.weight === "number") return { pool: v.pool, server: v.server, action: "weight", weight: v.weight };
  return undefined;
}

function asQuestion(v: unknown): Question | undefined {
  if (!isObject(v)) return undefined;
  if (v.what === "figures" || v.what === "view") return { what: v.what };
  if (v.what === "change") {
    const change = asServerChange(v.change);
    return change ? { what: "change", change } : undefined;
  }
  return undefined;
}

function asCheck(v: unknown): CheckResult | undefined {
  if (!isObject(v) || typeof v.ok !== "boolean" || typeof v.at !== "number" || typeof v.durationMs !== "number") return undefined;
  return {
    ok: v.ok,
    ...(typeof v.status === "number" ? { status: v.status } : {}),
    ...(typeof v.reason === "string" ? { reason: v.reason } : {}),
    at: v.at,
    durationMs: v.durationMs,
  };
}

function asSharedState(v: unknown): SharedServerState | undefined {
  if (!isObject(v) || typeof v.pool !== "string" || typeof v.id !== "string" || typeof v.target !== "string" || typeof v.healthy !== "boolean")
    return undefined;
  const check = v.check === undefined ? undefined : asCheck(v.check);
  if (v.check !== undefined && !check) return undefined;
  if (v.adminState !== undefined && !ADMIN_STATES.includes(v.adminState as string)) return undefined;
  if (v.weight !== undefined && typeof v.weight !== "number") return undefined;
  return {
    pool: v.pool,
    id: v.id,
    target: v.target,
    healthy: v.healthy,
    ...(check ? { check } : {}),
    ...(v.adminState !== undefined ? { adminState: v.adminState as AdminState } : {}),
    ...(v.weight !== undefined ? { weight: v.weight as number } : {}),
  };
}

export function asToWorker(v: unknown): ToWorker | undefined {
  if (!isObject(v)) return undefined;
  if (isCount(v.ask)) {
    const question = asQuestion(v.question);
    return question ? { ask: v.ask, question } : undefined;
  }
  if (Array.isArray(v.servers) && typeof v.whole === "boolean") {
    const servers = v.servers.map(asSharedState);
    return servers.every((s) => s !== undefined) ? { servers: servers as SharedServerState[], whole: v.whole } : undefined;
  }
  return undefined;
}
