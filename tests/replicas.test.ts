// Two replicas behind one port, as a Kubernetes Service or a TCP balancer puts them: two gateway processes with
// the same config (the same `sticky.key`), and a front that hands each new connection to the next replica. A
// sticky client stays on its server whichever replica answers it (docs/replicas.md).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deadPort } from "./helpers/common.ts";
import { startCli, type RunningProcess } from "./helpers/process.ts";
import { listen, startUpstream, type Upstream } from "./helpers/upstream.ts";

/** A TCP front on one port: connection n goes to replica n mod 2, byte for byte. Counts what each got. */
function roundRobinFront(ports: readonly number[]): { server: Server; served: number[]; sockets: Set<Socket> } {
  const served = ports.map(() => 0);
  const sockets = new Set<Socket>();
  let next = 0;
  const server = createServer((client) => {
    const i = next++ % ports.length;
    served[i]!++;
    const replica = connect({ host: "127.0.0.1", port: ports[i]! });
    for (const s of [client, replica]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(replica).pipe(client);
    client.on("close", () => replica.destroy());
    replica.on("close", () => client.destroy());
  });
  return { server, served, sockets };
}

let dir: string;
let upstreams: Upstream[];
let replicas: RunningProcess[];
let front: ReturnType<typeof roundRobinFront>;
let frontPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-replicas-"));
  upstreams = ["a", "b", "c"].map((name) => startUpstream(name));
  const ports = [await deadPort(), await deadPort()];
  replicas = [];
  for (const [i, port] of ports.entries()) {
    const path = join(dir, `replica-${i}.json`);
    await writeFile(
      path,
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        admin: false,
        accessLog: false,
        pools: {
          app: {
            balance: "round-robin",
            servers: upstreams.map((u) => ({ url: u.url, id: u.name })),
            // The same key on every replica: each signs and honours the same cookies.
            sticky: { cookie: "SLUICE", key: "replicas-share-this-key-of-32-chars" },
          },
        },
        routes: [{ pool: "app" }],
      }),
    );
    replicas.push(await startCli(["--config", path]));
  }
  front = roundRobinFront(ports);
  frontPort = await listen(front.server);
});

afterAll(async () => {
  front?.server.close();
  for (const s of front?.sockets ?? []) s.destroy();
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await Promise.all((upstreams ?? []).map((u) => u.stop()));
  await rm(dir, { recursive: true, force: true });
});

/** One request on a new connection through the front (so the replicas take turns). */
async function viaFront(cookie?: string): Promise<{ upstream: string; setCookie: string | null }> {
  const res = await fetch(`http://127.0.0.1:${frontPort}/`, {
    headers: { connection: "close", ...(cookie ? { cookie } : {}) },
    keepalive: false,
  });
  return { upstream: await res.text(), setCookie: res.headers.get("set-cookie") };
}

describe("two replicas sharing sticky.key behind one port", () => {
  test("a client bound by one replica stays on its server whichever replica answers", async () => {
    const before = [...front.served];
    const first = await viaFront();
    expect(first.setCookie).toStartWith("SLUICE=");
    const cookie = first.setCookie!.split(";")[0]!;
    const answers: string[] = [];
    for (let i = 0; i < 8; i++) {
      const { upstream, setCookie } = await viaFront(cookie);
      answers.push(upstream);
      // A valid cookie is honoured as it is: no new binding from the other replica.
      expect(setCookie).toBeNull();
    }
    expect(new Set(answers)).toEqual(new Set([first.upstream]));
    // Both replicas took part: the front alternated between them.
    const took = front.served.map((n, i) => n - before[i]!);
    expect(took[0]).toBeGreaterThanOrEqual(4);
    expect(took[1]).toBeGreaterThanOrEqual(4);
  });

  test("clients without the cookie are spread over the servers by both replicas", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add((await viaFront()).upstream);
    expect([...seen].sort()).toEqual(["a", "b", "c"]);
  });
});
