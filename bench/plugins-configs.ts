// The gateways the plugins benchmark compares: the same listener, pool and route in front of the same backend,
// differing only in what a request pays for on top of proxying. Every request of the run carries a valid HS256
// token and an Origin, whatever the target, so that every gateway reads the same bytes.
import { SignJWT } from "jose";

export type PluginsTargetName = "bare" | "plugins" | "tracing" | "sampled-out" | "tracing-json";

/** Every target, in the order of the tables; the last is only run when asked for (--targets). */
export const PLUGINS_TARGETS: readonly PluginsTargetName[] = ["bare", "plugins", "tracing", "sampled-out", "tracing-json"];
export const DEFAULT_PLUGINS_TARGETS: readonly PluginsTargetName[] = ["bare", "plugins", "tracing", "sampled-out"];

export const PLUGINS_TARGET_LABELS: Record<PluginsTargetName, string> = {
  bare: "no plugins, no telemetry",
  plugins: "jwt + rate-limit (local) + cors",
  tracing: "telemetry, sampleRatio 1.0",
  "sampled-out": "telemetry, sampleRatio 0",
  "tracing-json": "telemetry, sampleRatio 1.0, OTLP/JSON",
};

/** What a target's gateway process has in its environment besides the usual. */
export function pluginsTargetEnv(target: PluginsTargetName): Record<string, string> {
  return target === "tracing-json" ? { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" } : {};
}

/** 32 bytes: the shortest HMAC secret the jwt plugin takes. */
const SECRET = "sluice-bench-secret-0123456789ab";
export const ORIGIN = "https://app.example.com";

/** A token the jwt plugin accepts for the whole run (a day's validity). */
export function benchToken(): Promise<string> {
  return new SignJWT({ sub: "bench" }).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("1d").sign(new TextEncoder().encode(SECRET));
}

/** The gateway config of `target`; `otlp`: the sink's base URL. */
export function pluginsConfig(target: PluginsTargetName, port: number, backendPort: number, otlp: string): object {
  const plugins =
    target === "plugins"
      ? [
          { use: "jwt", options: { secret: SECRET } },
          // A limit no run reaches: the check is what is measured, never a 429.
          { use: "rate-limit", options: { limit: 1_000_000_000, window: "1m" } },
          { use: "cors", options: { origins: [ORIGIN] } },
        ]
      : [];
  const telemetry =
    target === "tracing" || target === "tracing-json"
      ? { otlp, serviceName: "sluice-bench", sampleRatio: 1 }
      : target === "sampled-out"
        ? { otlp, serviceName: "sluice-bench", sampleRatio: 0 }
        : undefined;
  return {
    listen: `127.0.0.1:${port}`,
    admin: false,
    accessLog: false,
    pools: { backend: { servers: [{ url: `http://127.0.0.1:${backendPort}` }] } },
    routes: [{ name: "site", match: { path: "/*" }, pool: "backend", plugins }],
    ...(telemetry ? { telemetry } : {}),
  };
}
