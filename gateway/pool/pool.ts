// A pool of upstream servers: owns their state and applies the rules every algorithm shares —
// down/disabled servers get nothing, backups only when no primary is available, a retry never
// returns to a server it already tried while another is available.
import type { PoolConfig } from "../config/schema.ts";
import { createSelector } from "../balancing/registry.ts";
import type { SelectionInput, Selector } from "../balancing/selector.ts";
import { UpstreamServer } from "./server.ts";
import { defaultServerId } from "../config/references.ts";

export class Pool {
  readonly name: string;
  readonly mode: "http" | "tcp";
  readonly servers: readonly UpstreamServer[];
  private readonly primaries: readonly UpstreamServer[];
  private readonly backups: readonly UpstreamServer[];
  private readonly selector: Selector;

  constructor(name: string, config: PoolConfig) {
    this.name = name;
    this.mode = config.mode;
    this.servers = config.mode === "tcp"
      ? config.servers.map((s) => {
        const i = s.address.lastIndexOf(":");
        const hostname = s.address.slice(0, i).replace(/^\[|\]$/g, "") || "127.0.0.1";
        return new UpstreamServer(s.address, hostname, Number(s.address.slice(i + 1)), { ...s, id: s.id ?? defaultServerId(s.address) });
      })
      : config.servers.map((s) => {
        const url = new URL(s.url);
        const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
        return new UpstreamServer(url.origin, url.hostname.replace(/^\[|\]$/g, ""), port, { ...s, id: s.id ?? defaultServerId(s.url) });
      });
    this.primaries = this.servers.filter((s) => !s.backup);
    this.backups = this.servers.filter((s) => s.backup);
    this.selector = createSelector(config.balance, { hash: config.hash });
  }

  get needsHashKey(): boolean {
    return this.selector.needsHashKey;
  }

  /**
   * Choose a server for a request. `tried` holds servers that already failed this request: they are
   * avoided while any other server is available.
   */
  select(input: SelectionInput, tried?: ReadonlySet<UpstreamServer>): UpstreamServer | undefined {
    const now = Date.now();
    const fresh = (s: UpstreamServer) => s.available(now) && !tried?.has(s);
    return this.selector.pick(this.primaries, fresh, input)
      ?? this.selector.pick(this.backups, fresh, input);
  }

  /** True when some server could take a request now (for 503 vs 502 after failures). */
  hasAvailable(): boolean {
    const now = Date.now();
    return this.servers.some((s) => s.available(now));
  }

  byId(id: string): UpstreamServer | undefined {
    return this.servers.find((s) => s.id === id);
  }
}
