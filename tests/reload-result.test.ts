// What a reload leaves behind for the operator: its result in the answer to POST /reload, in /status (`reload`:
// the last attempt with its time, trigger and problems, when the running config was loaded, the counts) and in
// /metrics (sluice_config_last_reload_successful, _success_timestamp_seconds, sluice_config_reloads_total), and a
// line on the dashboard — for reloads asked by the admin API, by SIGHUP and by --watch-config. Also: the plugins
// of the config each reload replaces are torn down, and the last ones at shutdown.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { deadPort, until, valueOf } from "./helpers/common.ts";
import { expectWellFormed, sampleValue, scrapeMetrics } from "./helpers/metrics.ts";
import { startCli } from "./helpers/process.ts";

const TOKEN = "result-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const lifecycle = resolve(import.meta.dir, "fixtures/plugins/lifecycle.ts");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-reload-result-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface ReloadStatus {
  lastSuccessAt: string;
  lastAttempt: { at: string; trigger: string; success: boolean; problems: string[]; notes: string[]; durationMs: number } | null;
  total: { success: number; failure: number };
}

async function reloadStatus(adminUrl: string): Promise<ReloadStatus> {
  const response = await fetch(`${adminUrl}/status`, { headers: auth });
  expect(response.status).toBe(200);
  return ((await response.json()) as { reload: ReloadStatus }).reload;
}

/** The reload figures of /metrics, checked well-formed. */
async function reloadFigures(adminUrl: string) {
  const text = await scrapeMetrics(adminUrl, TOKEN);
  expectWellFormed(text);
  return {
    successful: sampleValue(text, "sluice_config_last_reload_successful"),
    successAt: sampleValue(text, "sluice_config_last_reload_success_timestamp_seconds"),
    successes: sampleValue(text, "sluice_config_reloads_total", { result: "success" }),
    failures: sampleValue(text, "sluice_config_reloads_total", { result: "failure" }),
  };
}

function config(port: number, extra: Record<string, unknown> = {}) {
  return {
    listen: `127.0.0.1:${port}`,
    admin: { listen: "127.0.0.1:0", token: TOKEN },
    accessLog: false,
    routes: [{ match: { path: "/r" }, redirect: { to: "/one" } }],
    ...extra,
  };
}

describe("POST /reload", () => {
  test("a good and a bad reload: the answer, /status, /metrics and the dashboard", async () => {
    const path = join(dir, "admin.json");
    const port = await deadPort();
    await writeFile(path, JSON.stringify(config(port)));
    const before = Date.now();
    const gw = await startGateway({ configPath: path });
    const after = Date.now();
    const admin = gw.adminUrl!;
    try {
      // Before any reload: the config of the start counts as loaded, nothing tried yet.
      const initial = await reloadStatus(admin);
      expect(initial.lastAttempt).toBeNull();
      expect(initial.total).toEqual({ success: 0, failure: 0 });
      const startedAt = Date.parse(initial.lastSuccessAt);
      expect(startedAt).toBeGreaterThanOrEqual(before);
      expect(startedAt).toBeLessThanOrEqual(after);
      expect(await reloadFigures(admin)).toEqual({ successful: 1, successAt: startedAt / 1000, successes: 0, failures: 0 });

      // A good reload.
      await writeFile(path, JSON.stringify(config(port, { routes: [{ match: { path: "/r" }, redirect: { to: "/two" } }] })));
      const good = await fetch(`${admin}/reload`, { method: "POST", headers: auth });
      expect(good.status).toBe(200);
      const goodBody = (await good.json()) as Record<string, any>;
      expect(goodBody).toMatchObject({ status: "reloaded", trigger: "admin", success: true, problems: [], notes: [] });
      const goodAt = Date.parse(goodBody.at);
      expect(goodAt).toBeGreaterThanOrEqual(startedAt);
      const afterGood = await reloadStatus(admin);
      const { status: _status, ...goodResult } = goodBody;
      expect(afterGood).toEqual({ lastSuccessAt: goodBody.at, lastAttempt: goodResult as never, total: { success: 1, failure: 0 } });
      expect(await reloadFigures(admin)).toEqual({ successful: 1, successAt: goodAt / 1000, successes: 1, failures: 0 });

      // A bad one: refused with its problems, the running config stays and so does its load time.
      await writeFile(path, JSON.stringify(config(port, { routes: [{ pool: "missing" }] })));
      const bad = await fetch(`${admin}/reload`, { method: "POST", headers: auth });
      expect(bad.status).toBe(400);
      const badBody = (await bad.json()) as Record<string, any>;
      expect(badBody).toMatchObject({
        error: "reload refused: the running config stays",
        trigger: "admin",
        success: false,
        problems: ['routes[0].pool: no such pool (got "missing")'],
      });
      const afterBad = await reloadStatus(admin);
      expect(afterBad.lastSuccessAt).toBe(goodBody.at);
      expect(afterBad.lastAttempt).toMatchObject({ at: badBody.at, trigger: "admin", success: false, problems: badBody.problems });
      expect(afterBad.total).toEqual({ success: 1, failure: 1 });
      expect(await reloadFigures(admin)).toEqual({ successful: 0, successAt: goodAt / 1000, successes: 1, failures: 1 });
      const redirect = await fetch(`${gw.url}/r`, { redirect: "manual" });
      expect(redirect.headers.get("location")).toBe("/two");

      // The dashboard says the last reload failed, and why (escaped), and when the running config was loaded.
      const page = await (await fetch(`${admin}/?token=${TOKEN}`)).text();
      expect(page).toContain('data-reload="failed"');
      expect(page).toContain("routes[0].pool: no such pool (got &#34;missing&#34;)");
      expect(page).toContain(`datetime="${goodBody.at}"`);

      // A good one again: the gauge is back to 1.
      await writeFile(path, JSON.stringify(config(port)));
      expect((await fetch(`${admin}/reload`, { method: "POST", headers: auth })).status).toBe(200);
      expect((await reloadFigures(admin)).successful).toBe(1);
      expect((await reloadStatus(admin)).total).toEqual({ success: 2, failure: 1 });
      expect(await (await fetch(`${admin}/?token=${TOKEN}`)).text()).toContain('data-reload="ok"');
    } finally {
      await gw.stop(0);
    }
  });

  test("without the token, POST /reload is refused and nothing is recorded", async () => {
    const path = join(dir, "token.json");
    await writeFile(path, JSON.stringify(config(await deadPort())));
    const gw = await startGateway({ configPath: path });
    try {
      const response = await fetch(`${gw.adminUrl}/reload`, { method: "POST" });
      expect(response.status).toBe(401);
      expect((await reloadStatus(gw.adminUrl!)).lastAttempt).toBeNull();
    } finally {
      await gw.stop(0);
    }
  });
});

describe("SIGHUP, --watch-config and the admin API, in a running gateway process", () => {
  test("each reload's trigger and outcome show in /status and /metrics; replaced plugins are torn down, the last at exit", async () => {
    const path = join(dir, "process.json");
    const journal = join(dir, "journal.txt");
    const [port, adminPort] = [await deadPort(), await deadPort()];
    const admin = `http://127.0.0.1:${adminPort}`;
    const good = (tag: string) => ({
      ...config(port),
      admin: { listen: `127.0.0.1:${adminPort}`, token: TOKEN },
      plugins: [{ use: lifecycle, options: { journal, tag } }],
    });
    const bad = { ...good("bad"), routes: [{ pool: "missing" }] };
    const lines = () => (existsSync(journal) ? readFileSync(journal, "utf8").split("\n").filter(Boolean) : []);
    const teardowns = () => lines().filter((l) => l.startsWith("teardown")).length;
    /** The next reload's result, once /status shows an attempt newer than `after`. */
    const nextAttempt = async (after: string | undefined) =>
      await valueOf(
        async () => {
          const last = (await reloadStatus(admin)).lastAttempt;
          return last && last.at !== after ? last : undefined;
        },
        "a new reload attempt in /status",
        10_000,
      );

    await writeFile(path, JSON.stringify(good("g1")));
    const gw = await startCli(["--config", path, "--watch-config"]);
    try {
      // SIGHUP (the file as it was).
      gw.proc.kill("SIGHUP");
      const signal = await nextAttempt(undefined);
      expect(signal).toMatchObject({ trigger: "signal", success: true, problems: [] });
      await until(() => teardowns() === 1, "the replaced plugin torn down after SIGHUP");

      // The file changes: the watch reloads.
      await writeFile(path, JSON.stringify(good("g2")));
      const watched = await nextAttempt(signal.at);
      expect(watched).toMatchObject({ trigger: "watch", success: true });
      await until(() => teardowns() === 2, "the replaced plugin torn down after the watch's reload");

      // A broken file: the watch's reload is refused.
      await writeFile(path, JSON.stringify(bad));
      const refused = await nextAttempt(watched.at);
      expect(refused).toMatchObject({ trigger: "watch", success: false, problems: ['routes[0].pool: no such pool (got "missing")'] });
      expect(await reloadFigures(admin)).toEqual({ successful: 0, successAt: Date.parse(watched.at) / 1000, successes: 2, failures: 1 });

      // POST /reload of the same broken file: refused too, by the admin.
      const post = await fetch(`${admin}/reload`, { method: "POST", headers: auth });
      expect(post.status).toBe(400);
      expect(await nextAttempt(refused.at)).toMatchObject({ trigger: "admin", success: false });

      // Fixed on disk (watch), then reloaded once more by the admin.
      await writeFile(path, JSON.stringify(good("g3")));
      const fixed = await valueOf(
        async () => {
          const last = (await reloadStatus(admin)).lastAttempt;
          return last?.trigger === "watch" && last.success ? last : undefined;
        },
        "the fixed file reloaded",
        10_000,
      );
      await until(() => teardowns() === 3, "the replaced plugin torn down after the fixed file's reload");
      const again = await fetch(`${admin}/reload`, { method: "POST", headers: auth });
      expect(again.status).toBe(200);
      const last = (await again.json()) as { at: string; trigger: string };
      expect(last.trigger).toBe("admin");
      expect(Date.parse(last.at)).toBeGreaterThanOrEqual(Date.parse(fixed.at));
      await until(() => teardowns() === 4, "the replaced plugin torn down after POST /reload");

      const status = await reloadStatus(admin);
      expect(status.total).toEqual({ success: 4, failure: 2 });
      expect(status.lastSuccessAt).toBe(last.at);
      expect(await reloadFigures(admin)).toEqual({ successful: 1, successAt: Date.parse(last.at) / 1000, successes: 4, failures: 2 });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    // Every replaced config's plugin went, and the last one at exit.
    expect(lines()).toEqual([
      "setup g1",
      "setup g1",
      "teardown g1", // SIGHUP
      "setup g2",
      "teardown g1", // the watch
      "setup g3",
      "teardown g2", // the watch, after two refused reloads that set nothing up
      "setup g3",
      "teardown g3", // POST /reload
      "teardown g3", // SIGTERM
    ]);
  });
});
