// The access log as a file an operator rotates: `combined` lines byte for byte as nginx writes them (the same
// requests sent to a real nginx and to Sluice), the file created or appended to, reopened on SIGUSR1 after
// logrotate moved it (by every --workers process, and on Deno), a reload that changes the format and the file, a
// file that cannot be opened, and a disk that cannot keep up: lines dropped and counted, requests never held.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deadPort, until } from "./helpers/common.ts";
import { cliPath, repoRoot, runCli, spawnCommand, startCli, type RunningProcess } from "./helpers/process.ts";
import { rawRequest, startUpstream, type Upstream } from "./helpers/upstream.ts";
import { sampleValue, scrapeMetrics } from "./helpers/metrics.ts";
import { denoPath } from "./helpers/engine-gateway.ts";

let dir: string;
let app: Upstream;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-access-log-file-"));
  app = startUpstream("app");
});

afterAll(async () => {
  await app.stop();
  await rm(dir, { recursive: true, force: true });
});

function read(path: string): string {
  return existsSync(path) ? readFileSync(path, "latin1") : "";
}

/** Complete lines of a file. */
function linesOf(path: string): string[] {
  const text = read(path);
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l !== "");
}

async function config(name: string, settings: object): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(settings));
  return path;
}

/** A request on a connection of its own, answered in full. */
async function get(port: number, target: string, fields = ""): Promise<number> {
  return (await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${fields}Connection: close\r\n\r\n`)).status;
}

describe("the combined format", () => {
  let nginx: RunningProcess;
  let sluice: RunningProcess;
  let nginxPort: number;
  let sluicePort: number;
  const nginxLog = () => join(dir, "nginx-access.log");
  const sluiceLog = () => join(dir, "combined.log");
  // A zone with a half-hour offset: $time_local's "+0530" is written by both.
  const env = { TZ: "Asia/Kolkata" };

  beforeAll(async () => {
    nginxPort = await deadPort();
    sluicePort = await deadPort();
    const temp = join(dir, "nginx-temp");
    await mkdir(temp, { recursive: true });
    const nginxConf = join(dir, "nginx.conf");
    await writeFile(
      nginxConf,
      `worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "nginx-error.log")} warn;
events { worker_connections 64; }
http {
  access_log ${nginxLog()} combined;
  client_body_temp_path ${temp}/client;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  server {
    listen 127.0.0.1:${nginxPort};
    location / { proxy_pass ${app.url}; }
  }
}
`,
    );
    const nginxBin = Bun.which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : null);
    if (!nginxBin) throw new Error("nginx is missing: install it with `apt-get install -y nginx`");
    nginx = spawnCommand([nginxBin, "-p", dir, "-c", nginxConf, "-e", join(dir, "nginx-error.log"), "-g", "daemon off;"], { env });
    const path = await config("combined.json", {
      listen: `127.0.0.1:${sluicePort}`,
      admin: false,
      accessLog: { format: "combined", path: sluiceLog() },
      pools: { app: { servers: [{ url: app.url }] } },
      routes: [{ pool: "app" }],
    });
    sluice = await startCli(["--config", path], { env });
    await until(async () => (await get(nginxPort, "/warm").catch(() => 0)) === 200, "nginx answers");
  });

  afterAll(async () => {
    await sluice?.stop();
    await nginx?.stop("SIGQUIT");
  });

  test("the same requests make the same lines as nginx's, but for the clock", async () => {
    const requests = [
      'GET /api/x?q=1&b=%20c HTTP/1.1\r\nHost: x\r\nReferer: http://ref.example/a"b\r\nUser-Agent: agent "quoted" back\\slash\ttab \xe9t\xe9\r\nConnection: close\r\n\r\n',
      "POST /form HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\nUser-Agent: curl/8.0\r\n\r\nhello",
      "HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nReferer: \r\nConnection: close\r\n\r\n",
    ];
    const before = { nginx: linesOf(nginxLog()).length, sluice: linesOf(sluiceLog()).length };
    for (const request of requests) {
      const bytes = Buffer.from(request, "latin1");
      expect((await rawRequest(nginxPort, bytes)).status).toBe(200);
      expect((await rawRequest(sluicePort, bytes)).status).toBe(200);
    }
    await until(
      () => linesOf(nginxLog()).length >= before.nginx + requests.length && linesOf(sluiceLog()).length >= before.sluice + requests.length,
      "both logs have every line",
    );
    const clock = /\[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d /;
    const ours = linesOf(sluiceLog()).slice(before.sluice);
    const theirs = linesOf(nginxLog()).slice(before.nginx);
    expect(ours.map((l) => l.replace(clock, "[T "))).toEqual(theirs.map((l) => l.replace(clock, "[T ")));
    // What the comparison masked: today's local time, in the zone's offset.
    expect(ours[0]).toMatch(/^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0530\] "GET \/api\/x\?q=1&b=%20c HTTP\/1\.1" 200 3 /);
    expect(ours[0]).toContain('"agent \\x22quoted\\x22 back\\x5Cslash\\x09tab \\xE9t\\xE9"');
  });
});

describe("a log file", () => {
  test("is created when missing, appended to when it exists; SIGUSR1 reopens it after logrotate moved it", async () => {
    const log = join(dir, "rotate.log");
    await writeFile(log, "an older line\n");
    const port = await deadPort();
    const path = await config("rotate.json", {
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: { path: log },
      pools: { app: { servers: [{ url: app.url }] } },
      routes: [{ pool: "app" }],
    });
    const gw = await startCli(["--config", path]);
    try {
      expect(await get(port, "/before", "x-request-id: rot-before\r\n")).toBe(200);
      await until(() => read(log).includes("rot-before"), "the first line");
      expect(read(log).startsWith("an older line\n")).toBe(true);
      // logrotate's default (create): the file is moved away, and the gateway told to open it anew.
      await rename(log, `${log}.1`);
      expect(await get(port, "/moved", "x-request-id: rot-moved\r\n")).toBe(200);
      await until(() => read(`${log}.1`).includes("rot-moved"), "a line to the moved file, still open");
      gw.proc.kill("SIGUSR1");
      await until(() => existsSync(log), "the file made anew");
      expect(await get(port, "/after", "x-request-id: rot-after\r\n")).toBe(200);
      await until(() => read(log).includes("rot-after"), "a line in the new file");
      expect(read(`${log}.1`)).not.toContain("rot-after");
      expect(linesOf(log).map((l) => JSON.parse(l).requestId)).toEqual(["rot-after"]);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  }, 15_000);

  test("every --workers process reopens it on SIGUSR1 (the primary passes the signal on)", async () => {
    const log = join(dir, "workers.log");
    const port = await deadPort();
    const path = await config("workers.json", {
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: { path: log },
      pools: { app: { servers: [{ url: app.url }] } },
      routes: [{ pool: "app" }],
    });
    const gw = await startCli(["--config", path, "--workers", "2"]);
    let batch = 0;
    /** 40 requests on connections of their own (spread over both processes), each line found in one of the files. */
    const sendBatch = async (): Promise<string[]> => {
      const ids = Array.from({ length: 40 }, (_, i) => `w-${batch}-${i}`);
      batch++;
      const statuses = await Promise.all(ids.map((id) => get(port, `/${id}`, `x-request-id: ${id}\r\n`)));
      expect(new Set(statuses)).toEqual(new Set([200]));
      await until(() => ids.every((id) => read(log).includes(`"${id}"`) || read(`${log}.1`).includes(`"${id}"`)), "every line of the batch");
      return ids;
    };
    try {
      await sendBatch();
      await rename(log, `${log}.1`);
      gw.proc.kill("SIGUSR1");
      await until(() => existsSync(log), "the file made anew");
      // Until both processes have reopened, a batch may still go partly to the old file: then the next one.
      let last: string[] = [];
      await until(
        async () => {
          last = await sendBatch();
          return last.every((id) => read(log).includes(`"${id}"`));
        },
        "a whole batch in the new file",
        8_000,
        0,
      );
      for (const id of last) expect(read(`${log}.1`)).not.toContain(`"${id}"`);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  }, 20_000);

  test("a reload changes the format and the file; a file that cannot be opened refuses the reload, or the start", async () => {
    const first = join(dir, "first.log");
    const second = join(dir, "second.log");
    const port = await deadPort();
    const settings = { listen: `127.0.0.1:${port}`, admin: false, pools: { app: { servers: [{ url: app.url }] } }, routes: [{ pool: "app" }] };
    const path = await config("reload.json", { ...settings, accessLog: { path: first } });
    const gw = await startCli(["--config", path]);
    try {
      expect(await get(port, "/one", "x-request-id: rl-one\r\n")).toBe(200);
      await until(() => read(first).includes('"rl-one"'), "a JSON line in the first file");
      await writeFile(path, JSON.stringify({ ...settings, accessLog: { path: second, format: "combined" } }));
      gw.proc.kill("SIGHUP");
      await gw.waitFor(/reloaded/);
      expect(await get(port, "/two?x=2", "User-Agent: reload-test\r\n")).toBe(200);
      await until(() => read(second).includes('"GET /two?x=2 HTTP/1.1" 200 3 "-" "reload-test"'), "a combined line in the second file");
      expect(read(first)).not.toContain("/two");
      // A directory is no file to append to: the reload is refused, the running log stays.
      await writeFile(path, JSON.stringify({ ...settings, accessLog: { path: dir } }));
      gw.proc.kill("SIGHUP");
      await gw.waitFor(/reload refused[^]*accessLog\.path: cannot open/);
      expect(await get(port, "/three", "User-Agent: still\r\n")).toBe(200);
      await until(() => read(second).includes('"GET /three HTTP/1.1" 200 3 "-" "still"'), "still the second file");
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const { code, out } = await runCli([
      "--config",
      await config("bad-path.json", { ...settings, listen: `127.0.0.1:${await deadPort()}`, accessLog: { path: join(dir, "no-such-dir", "x.log") } }),
    ]);
    expect(code).toBe(1);
    expect(out).toMatch(/accessLog\.path: cannot open .*no-such-dir\/x\.log for appending/);
  }, 20_000);

  test("a disk that cannot keep up: lines beyond the buffer are dropped and counted, requests go on at once", async () => {
    const fifo = join(dir, "stalled.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    // A reader that opens the pipe and never reads: once the pipe's 64 KiB are full, every write waits.
    const stalled = Bun.spawn(["sh", "-c", `exec 3<"${fifo}"; exec sleep 60`]);
    const port = await deadPort();
    const adminPort = await deadPort();
    const admin = `http://127.0.0.1:${adminPort}`;
    const path = await config("stalled.json", {
      listen: `127.0.0.1:${port}`,
      admin: { listen: `127.0.0.1:${adminPort}` },
      accessLog: { path: fifo, buffer: "16kb" },
      pools: { app: { servers: [{ url: app.url }] } },
      routes: [{ pool: "app" }],
    });
    const gw = await startCli(["--config", path]);
    let drain: ReturnType<typeof Bun.spawn> | undefined;
    try {
      // Lines of about 4 KiB each (their user agent): 60 of them are more than the pipe and the buffer hold.
      const agent = `User-Agent: ${"a".repeat(4000)}\r\n`;
      for (let round = 0; round < 3; round++) {
        const statuses = await Promise.all(Array.from({ length: 20 }, () => get(port, "/flood", agent)));
        expect(new Set(statuses)).toEqual(new Set([200]));
      }
      const dropped = sampleValue(await scrapeMetrics(admin), "sluice_access_log_dropped_total")!;
      expect(dropped).toBeGreaterThan(0);
      expect(dropped).toBeLessThan(60);
      // The gateway still answers at once while its log waits.
      expect(await get(port, "/still")).toBe(200);
      // A reader again: what was held is written, and the gateway stops at once.
      drain = Bun.spawn(["sh", "-c", `exec cat "${fifo}" > /dev/null`]);
    } finally {
      stalled.kill();
      expect(await gw.stop()).toBe(0);
      drain?.kill();
    }
  }, 20_000);
});

describe("the accessLog key", () => {
  test("sluice check names what is wrong in it; true, false and an object are all accepted", async () => {
    const bad = await config("bad-log.json", { accessLog: { format: "xml", buffer: "10", pth: "x" } });
    const { code, out } = await runCli(["check", "--config", bad]);
    expect(code).toBe(1);
    expect(out.trim().split("\n")).toEqual([
      'accessLog.format: expected one of: json, combined (got "xml")',
      'accessLog.buffer: must be at least "1kb" (got "10")',
      'accessLog.pth: unknown key (got "x") — did you mean "path"?',
    ]);
    for (const accessLog of [true, false, {}, { format: "combined", path: "/var/log/sluice/access.log", buffer: "8mb" }]) {
      expect(await runCli(["check", "--config", await config("good-log.json", { accessLog })])).toEqual({ code: 0, out: "ok\n" });
    }
  });
});

describe("standard output", () => {
  test("--workers 2 share one pipe that is read slowly: every line arrives whole, none cut by another's", async () => {
    const port = await deadPort();
    const out = join(dir, "stdout-workers.txt");
    const path = await config("stdout-workers.json", {
      listen: `127.0.0.1:${port}`,
      admin: false,
      pools: { app: { servers: [{ url: app.url }] } },
      routes: [{ pool: "app" }],
    });
    // The reader of the pipe waits a second before it reads: the pipe fills, and the processes' writes wait in
    // the kernel side by side (a write larger than the pipe takes whole would then be cut by the other's).
    const shell = spawnCommand(["sh", "-c", `"${process.execPath}" "${cliPath}" --config "${path}" --workers 2 | { sleep 1; cat > "${out}"; }`]);
    const primary = () =>
      Number(
        Bun.spawnSync(["pgrep", "-P", String(shell.proc.pid), "-f", "cli.ts"])
          .stdout.toString()
          .trim()
          .split("\n")[0],
      );
    try {
      await shell.waitFor(/serving/);
      // Lines of about 1.5 KiB: each process's batches run far past what a pipe takes whole in one write.
      const agent = `User-Agent: ${"u".repeat(1200)}\r\n`;
      const ids = Array.from({ length: 300 }, (_, i) => `out-${i}`);
      for (let i = 0; i < ids.length; i += 100) {
        const statuses = await Promise.all(ids.slice(i, i + 100).map((id) => get(port, `/${id}`, `${agent}x-request-id: ${id}\r\n`)));
        expect(new Set(statuses)).toEqual(new Set([200]));
      }
      const logged = () => linesOf(out).filter((l) => l.includes('"out-'));
      await until(() => logged().length >= ids.length, "a line for every request", 8_000);
      const parsed = logged().map((line) => JSON.parse(line) as { requestId: string; userAgent: string });
      expect(parsed.map((l) => l.requestId).sort()).toEqual([...ids].sort());
      for (const line of parsed) expect(line.userAgent).toBe("u".repeat(1200));
    } finally {
      const pid = primary();
      if (pid > 0) process.kill(pid, "SIGTERM");
      await shell.proc.exited;
    }
  }, 20_000);
});

describe("on Deno", () => {
  test("lines go to the file, in the combined format, and SIGUSR1 reopens it", async () => {
    const log = join(dir, "deno.log");
    const port = await deadPort();
    const path = await config("deno.json", {
      listen: `127.0.0.1:${port}`,
      admin: false,
      accessLog: { path: log, format: "combined" },
      pools: { app: { servers: [{ url: app.url }] } },
      routes: [{ pool: "app" }],
    });
    const gw = spawnCommand([denoPath, "run", "-A", "--unstable-net", cliPath, "--config", path], { cwd: repoRoot, env: { TZ: "UTC" } });
    try {
      await gw.waitFor(/serving/);
      expect(await get(port, "/deno-one", "User-Agent: deno-test\r\n")).toBe(200);
      await until(() => read(log).includes('"GET /deno-one HTTP/1.1" 200 3 "-" "deno-test"'), "the line");
      expect(linesOf(log)[0]).toMatch(
        /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/deno-one HTTP\/1\.1" 200 3 "-" "deno-test"$/,
      );
      await rename(log, `${log}.1`);
      gw.proc.kill("SIGUSR1");
      await until(() => existsSync(log), "the file made anew");
      expect(await get(port, "/deno-two")).toBe(200);
      await until(() => read(log).includes("/deno-two"), "a line in the new file");
      expect(read(`${log}.1`)).not.toContain("/deno-two");
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  }, 20_000);
});
