// Log files on Deno: its own async file writes (node:fs's write runs on the event loop there and would stall
// the gateway behind a full pipe or a slow disk). Standard output is Deno.stdout.
import type { LogFile } from "./types.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

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
  };
}
