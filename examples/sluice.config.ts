// A TypeScript config: the same shape as JSON, typed through defineConfig. "sluice" is the package's own
// name: it resolves inside this checkout (the package refers to itself through package.json's "exports") and
// in any project that has installed Sluice with npm.
import { defineConfig } from "sluice";

export default defineConfig({
  listen: "127.0.0.1:8080",
  pools: {
    app: {
      servers: [{ url: "http://127.0.0.1:9001" }, { url: "http://127.0.0.1:9002" }],
    },
  },
  routes: [
    { name: "api", match: { path: "/api/*" }, pool: "app", stripPrefix: "/api" },
    { name: "default", pool: "app" },
  ],
});
