// One TCP health check (`mode: "tcp"` pools): the server passes when it accepts a connection.
import type { UpstreamServer } from "../pool/server.ts";
import type { Runtime } from "../runtime/types.ts";
import { describeProbeError, type Probe } from "./probe.ts";

export function tcpProbe(runtime: Runtime, server: UpstreamServer, timeoutMs: number): Probe {
  return async (signal) => {
    try {
      await runtime.probeTcp(server.hostname, server.port, timeoutMs, signal);
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: describeProbeError(error) };
    }
  };
}
