// `sluice health [--url URL]`: the probe a container HEALTHCHECK runs. Exit 0 only on a 200 answer.
import { afterAll, describe, expect, test } from "bun:test";
import { runCli } from "./helpers/process.ts";
import { startUpstream } from "./helpers/upstream.ts";
import { deadPort } from "./helpers/common.ts";

describe("sluice health", () => {
  const healthy = startUpstream("healthy", () => new Response('{"status":"ok"}'));
  const failing = startUpstream("failing", () => new Response("no", { status: 503 }));
  afterAll(async () => {
    await healthy.stop();
    await failing.stop();
  });

  test("a 200 answer exits 0 and prints ok", async () => {
    const { code, out } = await runCli(["health", "--url", `${healthy.url}/healthz`]);
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: "ok" });
    expect(healthy.seen.map((s) => `${s.method} ${s.url}`)).toEqual(["GET /healthz"]);
  });

  test("a 503 answer exits 1 and names the status", async () => {
    const { code, out } = await runCli(["health", "--url", `${failing.url}/healthz`]);
    expect(code).toBe(1);
    expect(out).toContain("answered 503");
  });

  test("nobody listening exits 1", async () => {
    const { code, out } = await runCli(["health", "--url", `http://127.0.0.1:${await deadPort()}/healthz`]);
    expect(code).toBe(1);
    expect(out).toContain("did not answer");
  });

  test("a URL that is not http:// is refused", async () => {
    const { code, out } = await runCli(["health", "--url", "ftp://127.0.0.1/healthz"]);
    expect(code).toBe(1);
    expect(out).toContain("--url: expected an http:// URL (got ftp://127.0.0.1/healthz)");
  });
});
