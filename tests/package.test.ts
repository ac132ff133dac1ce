// The npm package as a new user meets it: `npm pack` this checkout, install the tarball into an empty directory
// with nothing but Node and npm on PATH, then `npx sluice check`, a real gateway run serving a request through a
// plugin written in that directory, and tsc checking that plugin and a typed config against the installed package.
//
// Tests cannot count on reaching the npm registry, so the install is `npm ci --offline`: the directory gets a
// lock file made from this checkout's own (the same versions and integrity hashes of Sluice's dependencies, plus
// @types/bun as the directory's devDependency, each with its tarball's registry URL so that npm needs no registry
// metadata) and npm takes every tarball from its cache, which the checkout's `npm ci` filled. That is npm's
// ordinary install of the tarball: its bin linked, its dependencies placed, Bun's install script run; only where
// the dependency tarballs come from differs from a user's install.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { deadPort, until } from "./helpers/common.ts";
import { repoRoot, spawnCommand } from "./helpers/process.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

interface LockEntry {
  version?: string;
  resolved?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
interface PackedFile {
  path: string;
}

const work = mkdtempSync(join(tmpdir(), "sluice-package-"));
const app = join(work, "app");
// Only Node and npm: no node_modules/.bin of this checkout, so Bun has to come from the installed package.
const nodeDir = dirname(Bun.which("node") ?? "/usr/bin/node");
// npm passes its settings to scripts as npm_* variables (`npm test` runs this file): an npm started from here
// must read its own, not this checkout's.
const userEnv: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^npm_/i.test(e[0])),
);
userEnv.PATH = `${nodeDir}:/usr/bin:/bin`;

let packed: PackedFile[] = [];
let upstream: Upstream;

async function run(cmd: string[], cwd: string): Promise<{ code: number; out: string; stdout: string }> {
  const p = spawnCommand(cmd, { cwd, env: userEnv });
  const code = await p.proc.exited;
  await p.outputEnded;
  return { code, out: p.output(), stdout: p.stdout() };
}

/**
 * The lock entries for `roots` and everything they depend on, taken from this checkout's lock, each with the URL
 * of its tarball on `registry` (this checkout's lock leaves them out; npm would then look each one up).
 */
function entriesFor(roots: string[], lock: Record<string, LockEntry>, registry: string): Record<string, LockEntry> {
  const picked: Record<string, LockEntry> = {};
  const queue = roots.map((name) => `node_modules/${name}`);
  while (queue.length > 0) {
    const key = queue.shift()!;
    if (picked[key] || !lock[key]) continue;
    const name = key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
    picked[key] = { ...lock[key], resolved: `${registry}${name}/-/${name.split("/").at(-1)}-${lock[key].version}.tgz` };
    for (const name of Object.keys({ ...lock[key].dependencies, ...lock[key].optionalDependencies })) {
      // npm's layout: a copy nested under the dependent package wins over the hoisted one.
      queue.push(lock[`${key}/node_modules/${name}`] ? `${key}/node_modules/${name}` : `node_modules/${name}`);
    }
  }
  return picked;
}

beforeAll(async () => {
  const pack = await run(["npm", "pack", "--json", "--pack-destination", work], repoRoot);
  expect(pack.code).toBe(0);
  // npm pack runs the package's prepack script (the declarations) first; the JSON report comes last.
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m))) as { filename: string; files: PackedFile[] }[];
  packed = info!.files;
  const tarball = join(work, info!.filename);

  const manifest = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")).packages as Record<string, LockEntry>;
  const typesBun = lock["node_modules/@types/bun"]!.version!;
  const spec = `file:../${info!.filename}`;
  const dependencies = Object.keys(manifest.dependencies);
  const registry = (await run(["npm", "config", "get", "registry"], work)).out.trim().replace(/\/?$/, "/");
  const packages: Record<string, unknown> = {
    "": { name: "my-gateway", dependencies: { sluice: spec }, devDependencies: { "@types/bun": typesBun } },
    "node_modules/sluice": {
      version: manifest.version,
      resolved: spec,
      integrity: `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
    ...entriesFor(dependencies, lock, registry),
    ...Object.fromEntries(Object.entries(entriesFor(["@types/bun"], lock, registry)).map(([k, v]) => [k, { ...v, dev: true }])),
  };
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "my-gateway", private: true, type: "module", dependencies: { sluice: spec }, devDependencies: { "@types/bun": typesBun } }, null, 2),
  );
  writeFileSync(join(app, "package-lock.json"), JSON.stringify({ name: "my-gateway", lockfileVersion: 3, requires: true, packages }, null, 2));
  const install = await run(["npm", "ci", "--offline", "--no-audit", "--no-fund"], app);
  if (install.code !== 0) {
    throw new Error(`npm ci --offline of the packed tarball failed (a tarball missing from npm's cache: run npm ci in the checkout once):\n${install.out}`);
  }

  upstream = startUpstream("app-server");
  // A plugin as an author outside the checkout writes it, against the package name.
  writeFileSync(
    join(app, "stamp.ts"),
    `import { definePlugin, type GatewayRequest } from "sluice";

export default definePlugin({
  name: "stamp",
  setup() {
    return {
      onRequest(request: GatewayRequest) {
        request.setHeader("x-stamped-by", "my-gateway");
        request.setResponseHeader("x-stamp", request.route);
      },
    };
  },
});
`,
  );
  // Misuses the types must catch: if "sluice" resolved to nothing typed (any), these expectations of an error fail.
  writeFileSync(
    join(app, "misuse.ts"),
    `import { defineConfig, definePlugin } from "sluice";

export const wrongHook = definePlugin({
  name: "wrong",
  setup() {
    return {
      onRequest(request) {
        // @ts-expect-error the request has header(name), not a Headers object
        request.headers.get("host");
      },
    };
  },
});

// @ts-expect-error listen is an address string, not a bare port number
export const wrongConfig = defineConfig({ listen: 8080 });
`,
  );
  // An author's own compiler settings, stricter than Sluice's and without allowImportingTsExtensions: tsc reads
  // the declarations the package ships (dist/types, made by npm pack). Were it to reach Sluice's .ts sources
  // instead, it would check them with these settings (skipLibCheck spares declaration files only) and fail.
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "nodenext",
        strict: true,
        exactOptionalPropertyTypes: true,
        noUnusedLocals: true,
        noPropertyAccessFromIndexSignature: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["bun"],
      },
      include: ["*.ts"],
    }),
  );
}, 60_000);

afterAll(async () => {
  await upstream?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("the tarball holds the gateway, its launcher and the documents, and no tests or benchmarks", () => {
  const paths = packed.map((f) => f.path);
  for (const needed of [
    "package.json",
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    "bin/sluice.mjs",
    "gateway/mod.ts",
    "gateway/cli.ts",
    "dist/types/gateway/mod.d.ts",
    "plugins/jwt/index.ts",
    "routes/demo.ts",
  ]) {
    expect(paths).toContain(needed);
  }
  expect(paths.includes("sluice.schema.json")).toBe(existsSync(join(repoRoot, "sluice.schema.json")));
  expect(paths.filter((p) => /^(tests|bench|examples|deploy|\.ci)\/|\.test\.ts$|^(tsconfig|deno|biome|bunfig)\./.test(p))).toEqual([]);
});

test("npx sluice check runs the installed package's launcher on the Bun it brought, and passes the exit code on", async () => {
  writeFileSync(
    join(app, "cfg.json"),
    JSON.stringify({
      listen: "127.0.0.1:8080",
      admin: false,
      pools: { app: { servers: [{ url: upstream.url }] } },
      routes: [{ pool: "app", plugins: ["./stamp.ts"] }],
    }),
  );
  writeFileSync(join(app, "broken.json"), JSON.stringify({ routes: [{ pool: "nowhere" }] }));
  const good = await run(["npx", "sluice", "check", "--config", "./cfg.json"], app);
  expect({ code: good.code, out: good.out }).toEqual({ code: 0, out: "ok\n" });
  const broken = await run(["npx", "sluice", "check", "--config", "./broken.json"], app);
  expect(broken.code).toBe(1);
  expect(broken.out).toContain("nowhere");
}, 20_000);

test('sluice serves a request with a TypeScript config and a plugin that import from "sluice", and stops on SIGTERM', async () => {
  const port = await deadPort();
  writeFileSync(
    join(app, "sluice.config.ts"),
    `import { defineConfig } from "sluice";

export default defineConfig({
  listen: "127.0.0.1:${port}",
  admin: false,
  accessLog: false,
  pools: { app: { servers: [{ url: "${upstream.url}" }] } },
  routes: [{ name: "everything", pool: "app", plugins: ["./stamp.ts"] }],
});
`,
  );
  // node_modules/.bin/sluice is what npx runs, and what a process manager starts: npx itself does not pass
  // SIGTERM on to the command it runs.
  const gw = spawnCommand([join(app, "node_modules/.bin/sluice"), "--config", "./sluice.config.ts"], { cwd: app, env: userEnv });
  try {
    await gw.waitFor(/serving http 127\.0\.0\.1:\d+/);
    // The gateway runs on the bun package's binary in this directory, under the launcher.
    const children = readFileSync(`/proc/${gw.proc.pid}/task/${gw.proc.pid}/children`, "utf8").trim().split(/\s+/);
    expect(children.map((pid) => readlinkSync(`/proc/${pid}/exe`))).toEqual([join(app, "node_modules/bun/bin/bun.exe")]);

    const response = await fetch(`http://127.0.0.1:${port}/hello`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("app-server");
    expect(response.headers.get("x-stamp")).toBe("everything");
    expect(upstream.seen.at(-1)?.headers.get("x-stamped-by")).toBe("my-gateway");

    expect(await gw.stop("SIGTERM")).toBe(0);
    await until(
      () => children.every((pid) => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ")),
      "the gateway process gone",
    );
  } finally {
    await gw.stop("SIGKILL");
  }
}, 30_000);

test("a plugin and a config written outside the checkout type-check with tsc against the installed package's declarations", async () => {
  const tsc = await run([join(repoRoot, "node_modules/.bin/tsc"), "-p", "."], app);
  expect({ code: tsc.code, out: tsc.out }).toEqual({ code: 0, out: "" });
}, 30_000);
