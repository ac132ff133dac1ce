// Three small upstreams for the built-in demo. Each answers with what it received, so a newcomer can
// see what the gateway added (X-Forwarded-*, X-Request-Id) and which route was taken.
import { Hono } from "hono";
import type { HttpListener, Runtime } from "../runtime/types.ts";

function echoApp(name: string, greeting: string): Hono {
  const app = new Hono();
  app.all("*", (c) => {
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, key) => (headers[key] = value));
    return c.json({ upstream: name, greeting, method: c.req.method, path: c.req.path, query: c.req.query(), headers });
  });
  return app;
}

export const DEMO_UPSTREAMS = [
  { name: "web", greeting: "Hello from the website upstream" },
  { name: "api", greeting: "Hello from the API upstream" },
  { name: "mobile", greeting: "Hello from the mobile-site upstream" },
] as const;

/** Start the demo upstreams on free loopback ports; returns each one's URL by name. */
export async function startDemoUpstreams(runtime: Runtime): Promise<{ urls: Record<string, string>; listeners: HttpListener[] }> {
  const urls: Record<string, string> = {};
  const listeners: HttpListener[] = [];
  for (const { name, greeting } of DEMO_UPSTREAMS) {
    const app = echoApp(name, greeting);
    const listener = await runtime.serveHttp({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeoutSeconds: 30,
      maxRequestBodySize: 1024 * 1024,
      handler: (request) => app.fetch(request),
    });
    urls[name] = `http://127.0.0.1:${listener.port}`;
    listeners.push(listener);
  }
  return { urls, listeners };
}
