// Log files on Deno: its own async file writes (node:fs's write runs on the event loop there and would stall
// the gateway behind a full pipe or a slow disk). Standard output is Deno.stdout.
import type { LogFile } from "./types.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

/** POSIX's PIPE_BUF on Linux: a pipe takes a write this size whole. */
const PIPE_BUF = 4096;

interface Writer {
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

export async function openDenoLog(path?: string): Promise<LogFile> {
  const file: Writer = path === undefined ? Deno.stdout : await Deno.open(path, { append: true, create: true, mode: 0o644 });
  return {
    async write(bytes) {
      let offset = 0;
      while (offset < bytes.length) offset += await file.write(offset === 0 ? bytes : bytes.subarray(offset));
    },
    close: async () => {
      if (path !== undefined) file.close();
    },
    atomicBytes: path === undefined ? PIPE_BUF : undefined,
  };
}
