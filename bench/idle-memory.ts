// Resident memory of a proxy while it holds many idle keep-alive clients: VmRSS before, VmRSS with the
// clients held (each has had one request answered), and the difference per client. RSS is summed over
// the proxy's process tree (nginx: master and worker).
import { setTimeout as sleep } from "node:timers/promises";
import type { IdleConnections } from "./idle-connections.ts";
import { openIdleClients } from "./idle-http.ts";
import { fmt, type Table } from "./tables.ts";
import { treeMemory } from "./tree-memory.ts";

export interface IdleMemory {
  label: string;
  requested: number;
  beforeMB: number;
  heldMB: number;
  peakMB: number;
  held: number;
  failed: number;
  dropped: number;
  firstError: string | undefined;
}

/** Held clients right now, to be closed on an interrupt. */
let holding: IdleConnections | undefined;

export function closeHeldClients(): Promise<void> {
  return holding?.close().catch(() => {}) ?? Promise.resolve();
}

const UNREAD = { rssMB: NaN, peakMB: NaN };

export async function measureIdleMemory(label: string, pid: number, port: number, path: string, count: number): Promise<IdleMemory> {
  const before = treeMemory(pid) ?? UNREAD;
  holding = await openIdleClients(port, path, count);
  const set = holding;
  // Let the proxy finish whatever the last answers started (upstream reads, GC) before reading RSS.
  await sleep(1_000);
  const held = treeMemory(pid) ?? UNREAD;
  const row: IdleMemory = {
    label,
    requested: count,
    beforeMB: before.rssMB,
    heldMB: held.rssMB,
    peakMB: held.peakMB,
    held: set.held,
    failed: set.failed,
    dropped: set.droppedWhileHeld,
    firstError: set.firstError,
  };
  await set.close();
  holding = undefined;
  return row;
}

export function memoryTable(rows: IdleMemory[]): Table {
  return {
    header: ["target", "RSS before", `RSS holding ${fmt(rows[0]?.requested ?? 0)}`, "per client", "peak RSS", "held", "failed or dropped"],
    rows: rows.map((r) => [
      r.label,
      `${r.beforeMB.toFixed(1)} MB`,
      `${r.heldMB.toFixed(1)} MB`,
      r.held > 0 ? `${(((r.heldMB - r.beforeMB) * 1024) / r.held).toFixed(1)} KB` : "n/a",
      `${r.peakMB.toFixed(1)} MB`,
      fmt(r.held),
      fmt(r.failed + r.dropped),
    ]),
  };
}
