// The container image. Images cannot be pulled here, so this test checks the Dockerfile against the one manifest
// of the final stage's files (deploy/container/rootfs.json), assembles that same root filesystem from a freshly
// compiled binary and this machine's libraries, and runs the gateway isolated in it the way a container runs it:
// chrooted, as the image's user, as PID 1 of its own PID namespace. It proxies a request, answers the
// HEALTHCHECK probe, and drains on SIGTERM. The compose example is parsed and its config checked.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { repoRoot, spawnCommand, type RunningProcess } from "./helpers/process.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";
import { deadPort, until } from "./helpers/common.ts";
import { checkConfig } from "../gateway/config/check.ts";
import { balancerNames } from "../gateway/balancing/registry.ts";

interface ManifestFile {
  path: string;
  from: "build" | "context";
  source: string;
}
interface Manifest {
  user: string;
  files: ManifestFile[];
}

const manifest: Manifest = JSON.parse(readFileSync(join(repoRoot, "deploy/container/rootfs.json"), "utf8"));
const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
/** Where the build stage builds: a build-stage source under it is a build output, anything else a file of its base. */
const BUILD_WORKDIR = "/src/";

/** The Dockerfile's instructions (continuation lines joined, comments dropped), from its last FROM on. */
function finalStage(): string[] {
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const lastFrom = instructions.findLastIndex((line) => /^FROM\s/i.test(line));
  return instructions.slice(lastFrom);
}

function copiesOf(stage: string[]): ManifestFile[] {
  return stage
    .filter((line) => /^COPY\s/i.test(line))
    .map((line) => {
      const words = line.split(/\s+/).slice(1);
      const from = words[0]!.startsWith("--from=") ? words.shift()!.slice("--from=".length) : "context";
      expect(words).toHaveLength(2); // one file per COPY: source, destination, no other flags
      return { path: words[1]!, from: from as ManifestFile["from"], source: words[0]! };
    });
}

/** The shared libraries a dynamically linked binary loads, as `ldd` resolves them, plus the dynamic loader. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const ldd = spawnCommand(["ldd", binary]);
  expect(await ldd.proc.exited).toBe(0);
  await ldd.outputEnded;
  return ldd
    .stdout()
    .split("\n")
    .map((line) => line.match(/=>\s*(\/\S+)/)?.[1] ?? line.trim().match(/^(\/\S+)/)?.[1])
    .filter((path): path is string => path !== undefined)
    .sort();
}

/** A missing tool fails with its name: machines that run this suite have chroot and unshare. */
function requireTool(name: string): string {
  const found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map((dir) => join(dir, name)).find(existsSync);
  if (!found)
    throw new Error(`the container test needs \`${name}\` (util-linux/coreutils) to isolate the gateway in the image's root filesystem; it is not installed`);
  return found;
}

describe("the Dockerfile and its manifest", () => {
  test("the final stage copies exactly the manifest's files, in its order, one COPY each", () => {
    expect(copiesOf(finalStage())).toEqual(manifest.files.map(({ path, from, source }) => ({ path, from, source })));
  });

  test("the final stage starts empty, runs as the manifest's user, probes /healthz with the binary and runs it as PID 1", () => {
    const stage = finalStage();
    expect(stage[0]).toBe("FROM scratch");
    expect(stage.filter((line) => /^RUN\s/i.test(line))).toEqual([]); // nothing but the manifest's files
    expect(stage).toContain(`USER ${manifest.user}`);
    expect(stage).toContain("EXPOSE 8080 9901");
    expect(stage.find((line) => line.startsWith("HEALTHCHECK"))).toContain('CMD ["/usr/local/bin/sluice", "health", "--url", "http://127.0.0.1:9901/healthz"]');
    expect(stage).toContain('ENTRYPOINT ["/usr/local/bin/sluice"]');
    expect(stage).toContain('CMD ["--config", "/etc/sluice/sluice.config.json"]');
    const paths = manifest.files.map((file) => file.path);
    expect(paths).toContain("/usr/local/bin/sluice");
    expect(paths).toContain("/etc/sluice/sluice.config.json");
    expect(paths).toContain("/etc/ssl/certs/ca-certificates.crt");
  });

  test("the image's user exists in its /etc/passwd and /etc/group", () => {
    const [uid, gid] = manifest.user.split(":");
    const contextFile = (path: string) => readFileSync(join(repoRoot, manifest.files.find((file) => file.path === path)!.source), "utf8");
    expect(
      contextFile("/etc/passwd")
        .split("\n")
        .some((line) => line.split(":")[2] === uid && line.split(":")[3] === gid),
    ).toBe(true);
    expect(
      contextFile("/etc/group")
        .split("\n")
        .some((line) => line.split(":")[2] === gid),
    ).toBe(true);
  });

  test(".dockerignore keeps every file the build and the final stage need in the context", () => {
    const ignored = readFileSync(join(repoRoot, ".dockerignore"), "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    const needed = [
      "package.json",
      "package-lock.json",
      "gateway/cli.ts",
      "plugins",
      "routes",
      ...manifest.files.filter((f) => f.from === "context").map((f) => f.source),
    ];
    for (const path of needed) {
      const blocking = ignored.filter((pattern) => path === pattern || path.startsWith(`${pattern}/`));
      expect({ path, blocking }).toEqual({ path, blocking: [] });
    }
    for (const kept of ["node_modules", "dist", ".git"]) expect(ignored).toContain(kept);
  });

  test("the default config in the image is valid", async () => {
    const config = manifest.files.find((file) => file.path === "/etc/sluice/sluice.config.json")!;
    expect(await checkConfig(join(repoRoot, config.source), balancerNames as string[])).toEqual({ ok: true, lines: ["ok"] });
  });
});

describe("the gateway isolated in the image's root filesystem", () => {
  const unshare = requireTool("unshare");
  const chroot = requireTool("chroot");
  const work = mkdtempSync(join(tmpdir(), "sluice-container-"));
  const rootfs = join(work, "rootfs");
  const binary = join(work, "dist/sluice");
  let releaseSlow: () => void = () => {};
  const slowReleased = new Promise<void>((resolve) => (releaseSlow = resolve));
  let upstream: Upstream;
  let gateway: RunningProcess | undefined;

  /** A command run in the image's tree as a container runs it: its own mount and PID namespaces, /proc mounted, the image's user. */
  const inImage = (args: string[]) => [
    unshare,
    "--mount",
    "--pid",
    "--fork",
    `--mount-proc=${join(rootfs, "proc")}`,
    chroot,
    `--userspec=${manifest.user}`,
    rootfs,
    ...args,
  ];

  beforeAll(async () => {
    // Compiled as package.json's build script compiles dist/sluice, into this test's own directory.
    const script: string = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).scripts.build;
    const words = script.split(/\s+/);
    expect(words.slice(0, 2)).toEqual(["bun", "build"]);
    words[0] = process.execPath;
    words[words.indexOf("--outfile") + 1] = binary;
    const build = spawnCommand(words);
    const code = await build.proc.exited;
    await build.outputEnded;
    if (code !== 0) throw new Error(`bun build --compile failed:\n${build.output()}`);

    // The tree the Dockerfile's final stage holds: build outputs from this build, the build stage's base files
    // (libraries, CA bundle) from this machine, context files from the repository.
    for (const file of manifest.files) {
      const source =
        file.from === "context"
          ? join(repoRoot, file.source)
          : file.source.startsWith(BUILD_WORKDIR)
            ? join(work, file.source.slice(BUILD_WORKDIR.length))
            : file.source;
      const target = join(rootfs, file.path);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(source, target); // follows symlinks and keeps the mode, as COPY does
    }
    mkdirSync(join(rootfs, "proc")); // a container runtime mounts /proc; so does inImage
    chmodSync(work, 0o755);
    chmodSync(rootfs, 0o755);
    upstream = startUpstream("app", (request) => (new URL(request.url).pathname === "/slow" ? slowReleased.then(() => new Response("slow done")) : undefined));
  }, 120_000);

  afterAll(async () => {
    releaseSlow();
    if (gateway && gateway.proc.exitCode === null) gateway.proc.kill("SIGKILL");
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("the compiled binary needs no shared library beyond the manifest's", async () => {
    const libraries = manifest.files
      .map((file) => file.path)
      .filter((path) => /^\/(usr\/)?lib(64)?\//.test(path))
      .sort();
    expect(await sharedLibraries(binary)).toEqual(libraries);
  });

  test("inside, `sluice check` accepts the image's default config", async () => {
    const check = spawnCommand(inImage(["/usr/local/bin/sluice", "check", "--config", "/etc/sluice/sluice.config.json"]));
    expect(await check.proc.exited).toBe(0);
    await check.outputEnded;
    expect(check.output().trim()).toBe("ok");
  });

  test("inside, as PID 1: proxies, answers the health probe, and drains a slow request on SIGTERM, exiting 0", async () => {
    const listen = await deadPort();
    const admin = await deadPort();
    // What `docker run -v $PWD/sluice.config.json:/etc/sluice/sluice.config.json` puts there. The chroot shares
    // this machine's network, so the upstream on 127.0.0.1 is reachable as it would be on a container network.
    const config = {
      listen: `127.0.0.1:${listen}`,
      admin: { listen: `127.0.0.1:${admin}` },
      shutdownTimeout: "10s",
      pools: { app: { servers: [{ url: upstream.url }] } },
      routes: [{ name: "default", pool: "app" }],
    };
    writeFileSync(join(rootfs, "etc/sluice/sluice.config.json"), JSON.stringify(config));

    const probe = async () => {
      const health = spawnCommand(inImage(["/usr/local/bin/sluice", "health", "--url", `http://127.0.0.1:${admin}/healthz`]));
      const code = await health.proc.exited;
      await health.outputEnded;
      return { code, out: health.output().trim() };
    };
    expect((await probe()).code).toBe(1); // nothing runs yet: unhealthy

    gateway = spawnCommand(inImage(["/usr/local/bin/sluice", "--config", "/etc/sluice/sluice.config.json"]));
    await gateway.waitFor(/sluice: serving/, 20_000);

    // The gateway is the child unshare forked: PID 1 of its namespace, running as the image's user.
    const children = readFileSync(`/proc/${gateway.proc.pid}/task/${gateway.proc.pid}/children`, "utf8").trim().split(/\s+/);
    expect(children).toHaveLength(1);
    const gatewayPid = Number(children[0]);
    const status = readFileSync(`/proc/${gatewayPid}/status`, "utf8");
    expect(status.match(/^NSpid:\s+\d+\s+(\d+)$/m)?.[1]).toBe("1");
    expect(status.match(/^Uid:\s+(\d+)/m)?.[1]).toBe(manifest.user.split(":")[0]);
    expect(readFileSync(`/proc/${gatewayPid}/cmdline`, "utf8").split("\0")[0]).toBe("/usr/local/bin/sluice");

    const answer = await fetch(`http://127.0.0.1:${listen}/hello`);
    expect({ status: answer.status, body: await answer.text() }).toEqual({ status: 200, body: "app" });
    expect(upstream.seen.map((seen) => seen.url)).toContain("/hello");
    expect(await probe()).toEqual({ code: 0, out: "ok" });

    // A request in flight when SIGTERM arrives finishes; then the process exits 0.
    const slow = fetch(`http://127.0.0.1:${listen}/slow`);
    await until(() => upstream.seen.some((seen) => seen.url === "/slow"), "the slow request reached the upstream");
    process.kill(gatewayPid, "SIGTERM");
    await gateway.waitFor(/sluice: stopping/, 10_000);
    await until(async () => (await fetch(`http://127.0.0.1:${admin}/readyz`)).status === 503, "/readyz answers 503 while draining");
    expect(gateway.proc.exitCode).toBeNull();
    releaseSlow();
    const slowAnswer = await slow;
    expect({ status: slowAnswer.status, body: await slowAnswer.text() }).toEqual({ status: 200, body: "slow done" });
    expect(await gateway.proc.exited).toBe(0);
  }, 60_000);
});

describe("the compose example", () => {
  const composeDir = join(repoRoot, "deploy/compose");
  const compose = parseYaml(readFileSync(join(composeDir, "compose.yaml"), "utf8"));

  test("two upstreams and the gateway built from this repository with its config mounted", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["gateway", "whoami-a", "whoami-b"]);
    const gateway = compose.services.gateway;
    expect(resolve(composeDir, gateway.build.context)).toBe(repoRoot);
    expect(gateway.ports).toEqual(["8080:8080"]);
    expect(gateway.volumes).toEqual(["./sluice.config.json:/etc/sluice/sluice.config.json:ro"]);
    expect([...gateway.depends_on].sort()).toEqual(["whoami-a", "whoami-b"]);
  });

  test("the mounted config is valid and its pool's servers are the compose services", async () => {
    const configPath = join(composeDir, "sluice.config.json");
    expect(await checkConfig(configPath, balancerNames as string[])).toEqual({ ok: true, lines: ["ok"] });
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    const hosts = Object.values(config.pools as Record<string, { servers: { url: string }[] }>).flatMap((pool) =>
      pool.servers.map((server) => new URL(server.url).hostname),
    );
    expect(hosts.sort()).toEqual(["whoami-a", "whoami-b"]);
    expect(config.listen).toBe(":8080");
  });
});
