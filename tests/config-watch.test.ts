// `--watch-config`: a child gateway reloads when its config changes on disk — a directory laid out as
// Kubernetes mounts a ConfigMap (`..data -> ..2026_11_30_1`, `sluice.config.json -> ..data/sluice.config.json`)
// and updated as the kubelet does it (a new timestamped directory, a new `..data` symlink renamed over the
// old one), and a plain file rewritten in place.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliPath, spawnCommand, startCli, type RunningProcess } from "./helpers/process.ts";
import { deadPort, reaches } from "./helpers/common.ts";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "sluice-watch-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A config of redirect routes only: `paths` maps a request path to where it redirects. */
function config(port: number, paths: Record<string, string>): unknown {
  return {
    listen: `127.0.0.1:${port}`,
    admin: false,
    accessLog: false,
    routes: Object.entries(paths).map(([path, to]) => ({ match: { path }, redirect: { to } })),
  };
}

/** A ConfigMap volume as the kubelet writes it; `publish` swaps in a new version atomically. */
async function configMapVolume(dir: string, first: unknown, file = "sluice.config.json") {
  await mkdir(dir);
  let version = 0;
  const publish = async (content: unknown) => {
    const previous = version === 0 ? undefined : `..2026_11_30_${version}`;
    const next = `..2026_11_30_${++version}`;
    await mkdir(join(dir, next));
    await writeFile(join(dir, next, file), typeof content === "string" ? content : JSON.stringify(content, null, 2));
    await symlink(next, join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data")); // the atomic swap
    if (previous) await rm(join(dir, previous), { recursive: true });
  };
  await publish(first);
  await symlink(`..data/${file}`, join(dir, file));
  return { path: join(dir, file), publish };
}

async function location(port: number, path: string): Promise<string | null> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: "manual" });
  await response.arrayBuffer();
  return response.status === 302 || response.status === 301 || response.status === 307 || response.status === 308
    ? response.headers.get("location")
    : `status ${response.status}`;
}

describe("--watch-config", () => {
  test("a ConfigMap update (the ..data symlink swapped) is reloaded; a bad one is refused and the old config keeps serving", async () => {
    const port = await deadPort();
    const volume = await configMapVolume(join(root, "configmap"), config(port, { "/old": "/first" }));
    let gw: RunningProcess | undefined;
    try {
      gw = await startCli(["--config", volume.path, "--watch-config"]);
      expect(await location(port, "/old")).toBe("/first");
      expect(await location(port, "/new")).toBe("status 404");

      await volume.publish(config(port, { "/old": "/second", "/new": "/added" }));
      expect(await reaches("/added", () => location(port, "/new"))).toBe("/added");
      expect(await location(port, "/old")).toBe("/second");
      expect(gw.output()).toContain(`reloaded ${volume.path} (the file changed)`);

      // A config that fails validation: refused with its problem, and the running one stays.
      await volume.publish({ ...(config(port, {}) as object), routes: [{ pool: "missing" }] });
      await gw.waitFor(/reload refused[^]*routes\[0\]\.pool: no such pool/);
      expect(await location(port, "/new")).toBe("/added");

      // Not JSON at all: refused the same way.
      await volume.publish("{ not json");
      await gw.waitFor(/reload refused[^]*not valid JSON/);
      expect(await location(port, "/new")).toBe("/added");

      // A good config after the bad ones is taken.
      await volume.publish(config(port, { "/new": "/third" }));
      expect(await reaches("/third", () => location(port, "/new"))).toBe("/third");
      expect(await location(port, "/old")).toBe("status 404");
      expect(gw.proc.exitCode).toBeNull();
    } finally {
      await gw?.stop();
    }
  });

  test("a TypeScript config behind the ConfigMap's symlinks is read anew from the new version", async () => {
    const port = await deadPort();
    // As deploy/kubernetes/ does it: a TS config taking a value from the environment.
    const ts = (to: string) => `export default ${JSON.stringify(config(port, { "/r": to }))};`.replace(`"${to}"`, `process.env.SLUICE_TEST_PREFIX + "${to}"`);
    const volume = await configMapVolume(join(root, "configmap-ts"), ts("/one"), "sluice.config.ts");
    let gw: RunningProcess | undefined;
    try {
      gw = await startCli(["--config", volume.path, "--watch-config"], { env: { SLUICE_TEST_PREFIX: "/env" } });
      expect(await location(port, "/r")).toBe("/env/one");
      await volume.publish(ts("/two"));
      expect(await reaches("/env/two", () => location(port, "/r"))).toBe("/env/two");
    } finally {
      await gw?.stop();
    }
  });

  test("a ConfigMap update made while the gateway is starting is in effect once it serves", async () => {
    const port = await deadPort();
    const volume = await configMapVolume(join(root, "configmap-early"), config(port, { "/r": "/before" }));
    const gw = spawnCommand([process.execPath, cliPath, "--config", volume.path, "--watch-config"]);
    try {
      // Whether the swap lands before the config is read or after, the new version must end up serving.
      await volume.publish(config(port, { "/r": "/after" }));
      await gw.waitFor(/serving/);
      expect(await reaches("/after", () => location(port, "/r"))).toBe("/after");
    } finally {
      await gw.stop();
    }
  });

  test("with --workers, the primary watches and every process reloads", async () => {
    const port = await deadPort();
    const volume = await configMapVolume(join(root, "configmap-workers"), config(port, { "/r": "/old" }));
    let gw: RunningProcess | undefined;
    try {
      gw = await startCli(["--config", volume.path, "--watch-config", "--workers", "2"]);
      await volume.publish(config(port, { "/r": "/new" }));
      // Twenty at once are twenty connections, which the kernel spreads over both processes.
      const twenty = async () => (await Promise.all(Array.from({ length: 20 }, () => location(port, "/r")))).every((l) => l === "/new");
      expect(await reaches(true, twenty)).toBe(true);
      expect(gw.output().match(/reloaded/g)?.length).toBe(1); // one watcher, one reload message
    } finally {
      await gw?.stop();
    }
  });

  test("a plain config file rewritten in place is reloaded too", async () => {
    const port = await deadPort();
    const dir = join(root, "plain");
    await mkdir(dir);
    const path = join(dir, "sluice.config.json");
    await writeFile(path, JSON.stringify(config(port, { "/r": "/one" })));
    let gw: RunningProcess | undefined;
    try {
      gw = await startCli(["--config", path, "--watch-config"]);
      expect(await location(port, "/r")).toBe("/one");
      // Another file in the same directory changing is no reason to reload.
      await writeFile(join(dir, "unrelated.txt"), "hello");
      await writeFile(path, JSON.stringify(config(port, { "/r": "/two" })));
      expect(await reaches("/two", () => location(port, "/r"))).toBe("/two");
      await gw.waitFor(/reloaded .* \(the file changed\)/);
      expect(gw.output().match(/reloaded/g)?.length).toBe(1);
    } finally {
      await gw?.stop();
    }
  });
});
