// The TCP and UDP listeners of a gateway as one, when each was started on its own (a reload opens and closes
// them one by one): what /status, /metrics and the gateway's stop see of them together.
import type { TcpListeners, TcpStats } from "./tcp-listeners.ts";
import type { TrafficTable } from "./tcp-stats.ts";
import type { UdpListeners, UdpListenerStats } from "./udp-listener.ts";

export interface TcpGroup {
  readonly listeners: Array<{ kind: "tcp"; address: string }>;
  stats(): TcpStats;
}

/** TCP listeners started apart over one traffic table: per-listener figures side by side, per-server bytes once. */
export function tcpGroup(groups: readonly TcpListeners[], traffic: TrafficTable): TcpGroup {
  return {
    listeners: groups.flatMap((g) => g.listeners),
    stats: () => ({ listeners: groups.flatMap((g) => g.stats().listeners), servers: traffic.snapshot() }),
  };
}

export interface UdpGroup {
  readonly listeners: Array<{ kind: "udp"; address: string }>;
  stats(): UdpListenerStats[];
}

export function udpGroup(groups: readonly UdpListeners[]): UdpGroup {
  return {
    listeners: groups.flatMap((g) => g.listeners),
    stats: () => groups.flatMap((g) => g.stats()),
  };
}
