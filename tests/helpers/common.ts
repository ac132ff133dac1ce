// What tests of every kind share: waiting for a condition with a deadline (never a fixed sleep before an
// assertion), a loopback port nothing listens on, and a seeded random so that runs repeat exactly.
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

type Check = () => boolean | Promise<boolean>;

/** Poll `check` until it holds or `timeoutMs` passes; resolves to whether it held: `expect(await eventually(…)).toBe(true)`. */
export async function eventually(check: Check, timeoutMs = 3_000, stepMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await Bun.sleep(stepMs);
  }
  return await check();
}

/** Poll `check` until it holds; throws "`what`: not within N ms" once `timeoutMs` has passed. A check that throws counts as not yet. */
export async function until(check: Check, what: string, timeoutMs = 5_000, stepMs = 10): Promise<void> {
  const attempt = async () => {
    try {
      return await check();
    } catch {
      return false;
    }
  };
  if (!(await eventually(attempt, timeoutMs, stepMs))) throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/** Poll `probe` until it returns something other than undefined, and return that; throws naming `what` after `timeoutMs`. */
export async function valueOf<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 5_000, stepMs = 10): Promise<T> {
  let value: T | undefined;
  await until(async () => (value = await probe()) !== undefined, what, timeoutMs, stepMs);
  return value!;
}

/**
 * Poll `probe` until it returns `want`, or `timeoutMs` passes; returns the last value seen, so that
 * `expect(await reaches(want, probe)).toBe(want)` shows what it was instead.
 */
export async function reaches<T>(want: T, probe: () => T | Promise<T>, timeoutMs = 5_000, stepMs = 50): Promise<T> {
  let got = await probe();
  const deadline = Date.now() + timeoutMs;
  while (got !== want && Date.now() < deadline) {
    await Bun.sleep(stepMs);
    got = await probe();
  }
  return got;
}

/** A loopback port nobody listens on (bound, then released): a refused upstream, or a listen port for a child process. */
export async function deadPort(host = "127.0.0.1"): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: 0 }, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** mulberry32: a tiny seeded PRNG, so runs of random algorithms and generated cases repeat exactly. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether a process with this id is still running (an exited one nobody has reaped yet, a zombie, is not). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) STATE …"; the command name may itself contain ") ".
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return !existsSync("/proc/self/stat"); // no procfs to ask: kill(0) said it exists
  }
}
