// Many idle client connections held open through a proxy to redis: each sends PING and waits for +PONG,
// so that the connection is established all the way through (the proxy's upstream connection included),
// then stays open and silent until close().
import { holdIdleConnections, type IdleConnections, type IdleExchange } from "./idle-connections.ts";

export interface IdleOptions {
  /** Connection attempts in flight at once. */
  concurrency?: number;
  /** Source addresses to spread the connections over (127.0.0.2, …); none: the OS picks 127.0.0.1. */
  localAddresses?: string[];
  timeoutMs?: number;
}

const PING_EXCHANGE: IdleExchange = {
  request: "PING\r\n",
  verdict(got) {
    if (got === "+PONG\r\n") return "ok";
    if (got.includes("\r\n")) return { error: `unexpected answer ${JSON.stringify(got)}` };
    return undefined;
  },
  awaited: "+PONG",
  quote: (got) => JSON.stringify(got),
};

export function openIdle(port: number, count: number, options: IdleOptions = {}): Promise<IdleConnections> {
  const { concurrency = 200, localAddresses, timeoutMs } = options;
  return holdIdleConnections(port, count, PING_EXCHANGE, { concurrency, localAddresses, timeoutMs, reset: false });
}
