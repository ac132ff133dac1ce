// A byte range of a file as a response body, on node:fs/promises only (the same code on Bun and Deno).
//
// Small files are read whole (one read, the handle closed before the response leaves): Bun.serve only sends
// Content-Length for bodies of known size. Larger ones are streamed in 64 KiB reads. The stream opens its
// file handle on the first read, not before — a Response that is built and then dropped unread holds nothing
// open — and closes it at the end, on a read error, and when the client goes away (cancel). A file that
// changed after its headers were decided errors the stream, so the connection is cut rather than a body of the
// wrong length being sent under the old Content-Length.
import { open, type FileHandle } from "node:fs/promises";
import type { Stats } from "node:fs";

/** Files up to this size are read into memory in one go. */
export const SMALL_FILE_BYTES = 64 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** The bytes start..end (inclusive) of the file at `path`, whose stats were `stats` when headers were made. */
export function fileBody(path: string, stats: Stats, start: number, end: number): Promise<BodyInit | null> {
  const length = end - start + 1;
  if (length <= 0) return Promise.resolve(null);
  if (length <= SMALL_FILE_BYTES) return readWhole(path, stats, start, length);
  return Promise.resolve(fileStream(path, stats, start, end));
}

async function readWhole(path: string, stats: Stats, start: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const handle = await open(path, "r");
  try {
    await checkUnchanged(handle, stats);
    const buffer = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, start + filled);
      if (bytesRead === 0) throw new Error(`${path} shrank while being read`);
      filled += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close().catch(() => {});
  }
}

async function checkUnchanged(handle: FileHandle, stats: Stats): Promise<void> {
  const now = await handle.stat();
  if (!now.isFile() || now.size !== stats.size || now.mtimeMs !== stats.mtimeMs) throw new Error("file changed since it was looked up");
}

/** A pull stream over start..end of a file; the handle is opened lazily and always closed. */
export function fileStream(path: string, stats: Stats, start: number, end: number): ReadableStream<Uint8Array> {
  let handle: FileHandle | undefined;
  let position = start;
  let finished = false; // done, failed or cancelled: close the handle as soon as no read is in flight
  let busy = false;

  const release = async () => {
    const h = handle;
    handle = undefined;
    if (h) await h.close().catch(() => {});
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (finished) return;
        busy = true;
        try {
          if (!handle) {
            handle = await open(path, "r");
            if (!finished) await checkUnchanged(handle, stats);
          }
          if (finished) return; // cancelled while opening
          const want = Math.min(CHUNK_BYTES, end - position + 1);
          const chunk = new Uint8Array(want);
          const { bytesRead } = await handle.read(chunk, 0, want, position);
          if (finished) return; // cancelled while reading
          if (bytesRead === 0) throw new Error(`${path} shrank while being streamed`);
          position += bytesRead;
          controller.enqueue(bytesRead === want ? chunk : chunk.subarray(0, bytesRead));
          if (position > end) {
            finished = true;
            controller.close();
          }
        } catch (error) {
          if (!finished) {
            finished = true;
            try {
              controller.error(error);
            } catch {
              // the stream was already closed or errored
            }
          }
        } finally {
          busy = false;
          if (finished) await release();
        }
      },
      async cancel() {
        finished = true;
        if (!busy) await release(); // a read in flight closes the handle itself when it returns
      },
    },
    // Nothing is read (and nothing opened) until the consumer asks for data.
    { highWaterMark: 0 },
  );
}
