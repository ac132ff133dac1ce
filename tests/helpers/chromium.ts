// Debian's headless chromium for the dashboard tests: a one-shot run (dump the DOM, take a screenshot), or a
// page kept open and driven over the DevTools protocol. Quiet and offline, with a fresh profile each time.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM = "/usr/bin/chromium";

/** Headless chromium, quiet and offline, with a fresh profile in `dir` (its TMPDIR too, so nothing is left behind). */
const browser = (dir: string) => [
  CHROMIUM,
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  `--user-data-dir=${join(dir, "profile")}`,
  "--window-size=1280,900",
];

/** Remove a browser's directory; chromium's helper processes may still write to it for a moment after it exits. */
async function removeProfile(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // a file appeared while removing: try again
    }
    await Bun.sleep(50);
    if (!existsSync(dir)) return;
  }
}

function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium (apt-get install -y chromium)`);
}

/** Run headless chromium on a URL with extra flags; a fresh profile each time. */
export async function chromium(flags: string[], url: string): Promise<string> {
  requireChromium();
  const dir = mkdtempSync(join(tmpdir(), "sluice-chromium-"));
  try {
    const proc = Bun.spawn([...browser(dir), ...flags, url], { stdout: "pipe", stderr: "pipe", env: { ...process.env, TMPDIR: dir }, timeout: 30_000 });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`chromium exited ${code}: ${err.slice(-2000)}`);
    return out;
  } finally {
    await removeProfile(dir);
  }
}

/** An open page: `evaluate` runs an expression in it and returns its value; `send` is any DevTools command. */
export interface Page {
  evaluate(expression: string): Promise<unknown>;
  send(method: string, params?: object): Promise<any>;
}

/**
 * A page kept open in headless chromium, driven over the DevTools protocol. The browser is stopped (and its
 * profile removed) when `use` is done.
 */
export async function withPage<T>(url: string, use: (page: Page) => Promise<T>): Promise<T> {
  requireChromium();
  const dir = mkdtempSync(join(tmpdir(), "sluice-chromium-"));
  const proc = Bun.spawn([...browser(dir), "--remote-debugging-port=0", url], {
    stdout: "ignore",
    stderr: "pipe",
    env: { ...process.env, TMPDIR: dir },
    timeout: 30_000,
  });
  let socket: WebSocket | undefined;
  try {
    // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…" on stderr gives the port.
    let err = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) {
      err += decoder.decode(chunk);
      if (/DevTools listening on ws:\/\/[^\s]+:\d+\//.test(err)) break;
    }
    const port = /DevTools listening on ws:\/\/[^\s]+:(\d+)\//.exec(err)?.[1];
    if (!port) throw new Error(`chromium did not open its DevTools port: ${err.slice(-2000)}`);
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
    socket = new WebSocket(targets.find((t) => t.type === "page")!.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket!.onopen = resolve;
      socket!.onerror = reject;
    });
    const waiting = new Map<number, (message: any) => void>();
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      waiting.get(message.id)?.(message);
      waiting.delete(message.id);
    };
    let nextId = 1;
    const send = (method: string, params: object = {}) =>
      new Promise<any>((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result)));
        socket!.send(JSON.stringify({ id, method, params }));
      });
    const evaluate = async (expression: string) => {
      const result = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
      if (result.exceptionDetails) throw new Error(JSON.stringify(result.exceptionDetails));
      return result.result.value;
    };
    return await use({ evaluate, send });
  } finally {
    socket?.close();
    proc.kill();
    await proc.exited;
    await removeProfile(dir);
  }
}
