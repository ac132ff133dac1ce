// The processes of the L4 benchmark: one redis-server, and in front of it Sluice (a `mode: "tcp"` pool and a
// `tcp` listener) and HAProxy (`mode tcp`, one thread). Each is started through bash so that `ulimit -n`
// can raise its open-file limit first (`exec` keeps the pid: the pid remembered is the server's own).
// Also: a PING → +PONG probe, and the fd limits and fd counts of a process, from /proc.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { haproxyCommand, haproxyForward, haproxyGlobal } from "./haproxy-process.ts";
import { startChild, toolPath, waitForAnswer, type Child } from "./procs.ts";
import { sluiceCommand } from "./sluice-process.ts";

/** The hard open-file limit children inherit (what `ulimit -n` may raise them to without privileges). */
export function hardFdLimit(): number {
  const out = spawnSync("bash", ["-c", "ulimit -Hn"], { encoding: "utf8" }).stdout.trim();
  return out === "unlimited" ? Infinity : Number(out);
}

/** The soft open-file limit of a running process ("self" for this one), from /proc/PID/limits. */
export function fdLimitOf(pid: number | "self"): number {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    return soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return NaN;
  }
}

/** File descriptors a process has open now. */
export function openFds(pid: number | "self"): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** Start `command` with its soft fd limit raised to `fds` (or to the hard limit, if that is lower). */
function startWithFdLimit(name: string, fds: number, command: string, args: string[], dir: string, env?: Record<string, string>): Child {
  const script = `ulimit -n ${fds} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
  return startChild(name, "bash", ["-c", script, command, ...args], dir, env);
}

export function startRedis(dir: string, port: number, maxClients: number, fds: number): Child {
  return startWithFdLimit(
    "redis",
    fds,
    toolPath("redis-server"),
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxclients", String(maxClients), "--dir", dir],
    dir,
  );
}

export function startTcpSluice(dir: string, httpPort: number, tcpPort: number, redisPort: number, fds: number): Child {
  const { command, args, env } = sluiceCommand("bun", dir, "sluice", {
    // The HTTP listener is always opened: on a free port, unused.
    listen: `127.0.0.1:${httpPort}`,
    admin: false,
    accessLog: false,
    pools: { redis: { mode: "tcp", servers: [{ address: `127.0.0.1:${redisPort}` }] } },
    tcp: [{ listen: `127.0.0.1:${tcpPort}`, pool: "redis" }],
  });
  return startWithFdLimit("sluice", fds, command, args, dir, env);
}

/** HAProxy `mode tcp`, one thread. */
export function startTcpHaproxy(dir: string, port: number, redisPort: number, maxConn: number, fds: number): Child {
  const config = `${haproxyGlobal(maxConn)}

defaults
  mode tcp
  maxconn ${maxConn}
  timeout connect 5s
  timeout client 1m
  timeout server 1m

${haproxyForward("redis", port, "redis", redisPort)}
`;
  return startWithFdLimit("haproxy", fds, ...haproxyCommand(dir, config), dir);
}

/** One connection to 127.0.0.1:port that sends PING and resolves once +PONG came back. */
export function ping(port: number, timeoutMs = 2_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let got = "";
    const timer = setTimeout(() => fail(new Error("no +PONG in time")), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      got += chunk.toString("latin1");
      if (got.includes("+PONG\r\n")) {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      } else if (got.includes("\r\n")) fail(new Error(`unexpected answer ${JSON.stringify(got)}`));
    });
    socket.on("error", fail);
    socket.on("close", () => fail(new Error(`closed after ${JSON.stringify(got)}`)));
  });
}

/** Wait until PING through `port` answers +PONG, or throw with the child's output. */
export function waitForPong(child: Child, port: number, timeoutMs = 15_000): Promise<void> {
  return waitForAnswer(child, `PING on port ${port}`, timeoutMs, async () => {
    await ping(port);
    return undefined;
  });
}

/** A field of redis' INFO (e.g. connected_clients), through redis-cli. */
export function redisInfo(port: number, field: string): number {
  const out = spawnSync(toolPath("redis-cli"), ["-h", "127.0.0.1", "-p", String(port), "info", "clients"], { encoding: "utf8" });
  const m = new RegExp(`^${field}:(\\d+)`, "m").exec(out.stdout ?? "");
  return m ? Number(m[1]) : NaN;
}

/** A config value of the running redis (e.g. maxclients, as redis adjusted it to its fd limit). */
export function redisConfig(port: number, key: string): string {
  const out = spawnSync(toolPath("redis-cli"), ["-h", "127.0.0.1", "-p", String(port), "config", "get", key], { encoding: "utf8" });
  return (out.stdout ?? "").trim().split("\n")[1]?.trim() ?? "";
}
