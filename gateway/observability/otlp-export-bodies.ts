// The buffers encoded export bodies are copied into, used again once their export is over. A batch of 512 of the
// gateway's spans is about 170 KB; a new buffer for each (twenty a second at 5,000 requests a second) is memory
// the runtime's collector counts towards its next collection, and in a paired run that cost about 5 µs per
// request (bench/PLUGINS.md). A body is handed back when its export has ended, retries included: only then is
// nothing going to send it again.

/** Buffers kept for reuse: one per export in flight is enough, the SDK's processor exports one batch at a time. */
const KEEP = 4;
/** The smallest buffer made: a batch of the gateway's spans is rarely smaller. */
const MIN_SIZE = 64 * 1024;

export class ExportBodies {
  private readonly free: ArrayBuffer[] = [];
  /** The buffers lent out, so that release() knows its own from a body someone else made. */
  private readonly lent = new WeakSet<ArrayBufferLike>();

  /** `bytes` copied into a buffer of the pool (or a new one): the body of one export. */
  copy(bytes: Uint8Array): Uint8Array {
    let buffer = this.free.pop();
    if (buffer === undefined || buffer.byteLength < bytes.length) {
      // Too small for this batch: dropped, and one with room to grow made in its place.
      buffer = new ArrayBuffer(Math.max(MIN_SIZE, Math.ceil(bytes.length * 1.25)));
    }
    this.lent.add(buffer);
    const body = new Uint8Array(buffer, 0, bytes.length);
    body.set(bytes);
    return body;
  }

  /** The export of `body` is over: its buffer may hold another. A body this pool did not make is left alone. */
  release(body: Uint8Array): void {
    const buffer = body.buffer;
    if (!this.lent.has(buffer)) return;
    this.lent.delete(buffer);
    if (this.free.length < KEEP) this.free.push(buffer as ArrayBuffer);
  }
}
