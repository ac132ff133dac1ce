// Real TCP servers behind a `tcp` listener: Redis (redis-cli commands, a 1 MB value, redis-benchmark) and
// PostgreSQL (psql queries and a transaction). The tools must be installed: a missing one fails the test
// with the command that installs it, never a silent skip.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startL4, tcpPoolOf, type L4Setup } from "./helpers/l4.ts";
import { deadPort, until } from "./helpers/common.ts";

const INSTALL = "apt-get update && apt-get install -y redis-server postgresql";

function need(tool: string): string {
  const path = Bun.which(tool);
  if (!path) throw new Error(`${tool} is not installed: run \`${INSTALL}\``);
  return path;
}

/** Run a command to completion; returns stdout, or throws with stderr. */
async function run(cmd: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
  const proc = Bun.spawn(cmd, { stdin: options.stdin !== undefined ? new TextEncoder().encode(options.stdin) : "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(), options.timeoutMs ?? 15_000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${err}${out}`);
  return out;
}

describe("redis behind a tcp listener", () => {
  let redis: Subprocess | undefined;
  let redisPort: number;
  let gw: L4Setup | undefined;

  beforeAll(async () => {
    const server = need("redis-server");
    need("redis-cli");
    need("redis-benchmark");
    redisPort = await deadPort();
    redis = Bun.spawn([server, "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdout: "ignore",
      stderr: "inherit",
    });
    await until(async () => (await run(["redis-cli", "-p", String(redisPort), "ping"])).trim() === "PONG", "redis-server comes up", 5_000, 50);
    gw = await startL4({ pools: { redis: tcpPoolOf([`127.0.0.1:${redisPort}`], { balance: "least-conn" }) }, tcp: [{ pool: "redis" }] });
  });

  afterAll(async () => {
    await gw?.stop(0);
    redis?.kill();
    await redis?.exited;
  });

  test("redis-cli SET / GET / INCR through the listener", async () => {
    const cli = ["redis-cli", "-p", String(gw!.port)];
    expect((await run([...cli, "SET", "sluice:key", "hello world"])).trim()).toBe("OK");
    expect((await run([...cli, "GET", "sluice:key"])).trim()).toBe("hello world");
    expect((await run([...cli, "INCR", "sluice:n"])).trim()).toBe("1");
    // Several commands on one connection (redis-cli reads them from stdin).
    const out = await run([...cli], { stdin: "SET a 1\nINCRBY a 41\nGET a\nDEL a\n" });
    expect(out.trim().split("\n")).toEqual(["OK", "42", "42", "1"]);
  });

  test("a 1 MB value goes in and comes back whole", async () => {
    const cli = ["redis-cli", "-p", String(gw!.port)];
    const value = Array.from({ length: 1024 * 1024 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join("");
    expect((await run([...cli, "-x", "SET", "sluice:big"], { stdin: value })).trim()).toBe("OK");
    const back = await run([...cli, "--no-raw", "STRLEN", "sluice:big"]);
    expect(back.trim()).toBe("(integer) 1048576");
    expect((await run([...cli, "GET", "sluice:big"])).replace(/\n$/, "")).toBe(value);
  });

  test("redis-benchmark SET/GET through the listener", async () => {
    const bench = async (port: number) => {
      const out = await run(["redis-benchmark", "-p", String(port), "-n", "2000", "-q", "-t", "set,get"], { timeoutMs: 20_000 });
      const rate = (name: string) => Number(new RegExp(`${name}: ([\\d.]+) requests per second`).exec(out)?.[1] ?? NaN);
      return { set: rate("SET"), get: rate("GET"), out };
    };
    const through = await bench(gw!.port);
    const direct = await bench(redisPort);
    console.log(`redis-benchmark -n 2000: through the listener SET ${through.set}/s GET ${through.get}/s; direct SET ${direct.set}/s GET ${direct.get}/s`);
    expect(through.set).toBeGreaterThan(0);
    expect(through.get).toBeGreaterThan(0);
    const stats = gw!.tcp.stats().listeners[0]!;
    expect(stats.errors.resets + stats.errors.connectFailures).toBe(0);
    // redis-benchmark opens 50 clients by default, all through the listener.
    expect(stats.accepted).toBeGreaterThanOrEqual(50);
  }, 30_000);
});

describe("postgres behind a tcp listener", () => {
  let dir: string | undefined;
  let postgres: Subprocess | undefined;
  let pgPort: number;
  let gw: L4Setup | undefined;
  let bin: string;
  let as: string[] = [];

  beforeAll(async () => {
    need("psql");
    const root = "/usr/lib/postgresql";
    const version = existsSync(root)
      ? readdirSync(root)
          .filter((v) => existsSync(join(root, v, "bin/initdb")))
          .sort()
          .at(-1)
      : undefined;
    if (!version) throw new Error(`PostgreSQL server binaries (initdb) not found under ${root}: run \`${INSTALL}\``);
    bin = join(root, version, "bin");
    dir = await mkdtemp(join(tmpdir(), "sluice-pg-"));
    // postgres refuses to run as root: run it as the postgres user the Debian package creates.
    const asRoot = process.getuid?.() === 0;
    as = asRoot ? ["runuser", "-u", "postgres", "--"] : [];
    if (asRoot) {
      const id = await run(["id", "-u", "postgres"]).catch(() => {
        throw new Error(`no postgres user to run the server as: run \`${INSTALL}\``);
      });
      const gid = await run(["id", "-g", "postgres"]);
      await chown(dir, Number(id.trim()), Number(gid.trim()));
    }
    await run([...as, join(bin, "initdb"), "-D", join(dir, "data"), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"], { timeoutMs: 30_000 });
    pgPort = await deadPort();
    postgres = Bun.spawn(
      [
        ...as,
        join(bin, "postgres"),
        "-D",
        join(dir, "data"),
        "-p",
        String(pgPort),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
      ],
      { stdout: "ignore", stderr: "ignore" },
    );
    await until(
      async () => {
        await run([join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", String(pgPort)]);
        return true;
      },
      "postgres comes up",
      10_000,
      50,
    );
    gw = await startL4({ pools: { pg: tcpPoolOf([`127.0.0.1:${pgPort}`]) }, tcp: [{ pool: "pg" }] });
  }, 40_000);

  afterAll(async () => {
    await gw?.stop(0);
    if (postgres) {
      // runuser does not pass signals on: stop the server the way its tools do.
      await run([...as, join(bin, "pg_ctl"), "stop", "-D", join(dir!, "data"), "-m", "immediate", "-w"]).catch(() => postgres!.kill("SIGKILL"));
      await postgres.exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const psql = (sql: string) =>
    run(["psql", "-h", "127.0.0.1", "-p", String(gw!.port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-X"], { stdin: sql });

  test("psql select 1 through the listener", async () => {
    expect((await run(["psql", "-h", "127.0.0.1", "-p", String(gw!.port), "-U", "postgres", "-At", "-X", "-c", "select 1"])).trim()).toBe("1");
  });

  test("a transaction through the listener: BEGIN, CREATE TABLE, INSERT, COMMIT, then SELECT", async () => {
    const out = await psql(`
      BEGIN;
      CREATE TABLE sluice_t (id int primary key, name text);
      INSERT INTO sluice_t SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
      COMMIT;
      SELECT count(*), max(name) FROM sluice_t;
    `);
    expect(out.trim().split("\n").at(-1)).toBe("5000|row 999");
    // A rolled-back transaction leaves nothing behind.
    const rolled = await psql("BEGIN; INSERT INTO sluice_t VALUES (9999, 'x'); ROLLBACK; SELECT count(*) FROM sluice_t;");
    expect(rolled.trim().split("\n").at(-1)).toBe("5000");
    // A large result (~1 MB) streams back through the pipe.
    const big = await psql("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 30000) g;");
    expect(big.trim().length).toBe(30000 * 32);
    const stats = gw!.tcp.stats().listeners[0]!;
    expect(stats.bytesOut).toBeGreaterThan(960_000);
  });
});
