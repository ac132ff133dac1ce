// Log files on Bun: node:fs's callback writes, which Bun runs off the event loop (a full pipe or a slow disk
// holds a write, never the gateway). Standard output is written the same way, on its descriptor.
import { close, open, write } from "node:fs";
import type { LogFile } from "./types.ts";

const STDOUT = 1;
/** POSIX's PIPE_BUF on Linux: a pipe takes a write this size whole. */
const PIPE_BUF = 4096;
/** A descriptor set non-blocking by someone else answers EAGAIN when full: try again a little later. */
const RETRY_MS = 10;

function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (offset: number) =>
      write(fd, bytes, offset, bytes.length - offset, null, (error, written) => {
        if (error) return (error as { code?: string }).code === "EAGAIN" ? void setTimeout(() => step(offset), RETRY_MS) : reject(error);
        offset += written;
        if (offset < bytes.length) step(offset);
        else resolve();
      });
    step(0);
  });
}

export async function openBunLog(path?: string): Promise<LogFile> {
  if (path === undefined) return { write: (bytes) => writeAll(STDOUT, bytes), close: async () => {}, atomicBytes: PIPE_BUF };
  const fd = await new Promise<number>((resolve, reject) => open(path, "a", 0o644, (error, fd) => (error ? reject(error) : resolve(fd))));
  return {
    write: (bytes) => writeAll(fd, bytes),
    close: () => new Promise((resolve) => close(fd, () => resolve())),
  };
}
