// Built-in plugins by the name users write in `use`. Loaded lazily: a config pays only for what it names.
export const builtinPlugins: Record<string, () => Promise<unknown>> = {
  "request-id": async () => (await import("../../plugins/request-id/index.ts")).default,
  headers: async () => (await import("../../plugins/headers/index.ts")).default,
  "rate-limit": async () => (await import("../../plugins/rate-limit/index.ts")).default,
  jwt: async () => (await import("../../plugins/jwt/index.ts")).default,
  cors: async () => (await import("../../plugins/cors/index.ts")).default,
  "basic-auth": async () => (await import("../../plugins/basic-auth/index.ts")).default,
  "ip-filter": async () => (await import("../../plugins/ip-filter/index.ts")).default,
};
