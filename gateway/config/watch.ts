// `--watch-config`: reload when the config file changes on disk, as SIGHUP does.
//
// Kubernetes updates a mounted ConfigMap by writing a new `..2026_…` directory and renaming a new
// `..data` symlink over the old one; the config path itself (`sluice.config.json -> ..data/…`) never
// changes, so a watch on the file would keep pointing at the old inode. The watch is therefore on the
// file's directory, and any event there only says "look again": after a quiet spell the file is read
// through its path (following the symlinks) and a reload runs only when its bytes differ from the last
// ones seen. Editors that write a temporary file and rename it, and unrelated files in the same
// directory, are handled the same way. node:fs `watch` works on Bun and Deno alike.
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/** How long the directory must stay quiet before the file is read again (a ConfigMap swap is several events). */
const WATCH_DEBOUNCE_MS = 200;

export interface ConfigWatch {
  close(): void;
}

/** The config file's bytes now (undefined when it cannot be read): what `watchConfigFile` compares against. */
export function readConfigBytes(configPath: string): Promise<string | undefined> {
  return contents(resolve(configPath));
}

/**
 * Watch `configPath` and call `reload` after it changed. `reload` does its own logging and refusing;
 * one reload runs at a time, and a change seen during a reload is looked at again after it.
 * `loadedBytes` are the bytes read before the running config was loaded: the file is compared with
 * them once the watch is in place, so a change made while the gateway was starting is not missed.
 */
export async function watchConfigFile(
  configPath: string,
  reload: () => Promise<void>,
  loadedBytes?: string,
  debounceMs = WATCH_DEBOUNCE_MS,
): Promise<ConfigWatch> {
  const path = resolve(configPath);
  let lastSeen = loadedBytes ?? (await contents(path));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reloading = false;
  let lookAgain = false;
  let closed = false;

  const check = async () => {
    timer = undefined;
    if (reloading) return void (lookAgain = true);
    const now = await contents(path);
    // Missing for a moment (a swap in progress, a file being rewritten): the next event looks again.
    if (now === undefined || now === lastSeen) return;
    lastSeen = now;
    reloading = true;
    try {
      await reload();
    } finally {
      reloading = false;
    }
    if (lookAgain && !closed) {
      lookAgain = false;
      schedule();
    }
  };
  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void check(), debounceMs);
  };

  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, schedule);
  // A watch error (the directory removed) must not take the gateway down: the running config stays.
  watcher.on("error", (error) => console.error(`sluice: stopped watching ${configPath}: ${(error as Error).message}`));
  if (loadedBytes !== undefined) schedule();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}

async function contents(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}
