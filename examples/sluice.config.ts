// A TypeScript config: the same shape as JSON, typed through defineConfig. When Sluice is installed as
// a package, import from "sluice/gateway/mod.ts" instead of the relative path.
import { defineConfig } from "../gateway/mod.ts";

export default defineConfig({
  listen: "127.0.0.1:8080",
  pools: {
    app: {
      servers: [
        { url: "http://127.0.0.1:9001" },
        { url: "http://127.0.0.1:9002" },
      ],
    },
  },
  routes: [
    { name: "api", match: { path: "/api/*" }, pool: "app", stripPrefix: "/api" },
    { name: "default", pool: "app" },
  ],
});
