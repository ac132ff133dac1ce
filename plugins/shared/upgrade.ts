// Whether a request asks to switch protocols (a WebSocket handshake): the gateway treats it as an upgrade when
// Connection lists the `upgrade` token and an Upgrade field is there — the same test its request parser makes.
import type { GatewayRequest } from "../../gateway/mod.ts";

const LISTS_UPGRADE = /(?:^|,)[ \t]*upgrade[ \t]*(?:,|$)/i;

export function isUpgradeRequest(req: GatewayRequest): boolean {
  if (req.header("upgrade") === undefined) return false;
  const connection = req.header("connection");
  return connection !== undefined && LISTS_UPGRADE.test(connection);
}
