// The upstream of the streaming benchmark, run as its own process: `bun bench/stream-upstream.ts PORT DIR`.
// One Bun.serve on 127.0.0.1:PORT that
//   - echoes every WebSocket message back on the same connection (any path with an Upgrade),
//   - GET /files/NAME: the file NAME of DIR (the harness puts sparse files there) with a Content-Length;
//     Bun sends it with sendfile, so the upstream costs the least CPU on the core it shares with the
//     clients, and a sparse file takes no disk,
//   - GET /chunked?bytes=N: N bytes generated on the fly in 64 KiB chunks, chunked (Bun gives a streamed
//     body no Content-Length), as an application streaming its answer would,
//   - PUT or POST /upload: reads the whole body, counting its bytes, and answers the count,
//   - GET /ready: "ok".
// It runs under Bun only (Bun.serve, Bun.file).

import { existsSync } from "node:fs";
import { join } from "node:path";

const [portText, dir] = process.argv.slice(2);
const port = Number(portText);
if (!Number.isInteger(port) || port <= 0 || !dir) {
  console.error("usage: bun bench/stream-upstream.ts PORT DIR");
  process.exit(2);
}

/** The size of a generated chunk: what Node's and Bun's file streams read at a time. */
const CHUNK = new Uint8Array(64 * 1024).fill(0x61);

function generated(bytes: number): ReadableStream<Uint8Array> {
  let left = bytes;
  return new ReadableStream(
    {
      pull(controller) {
        const n = Math.min(left, CHUNK.length);
        // The bytes never change, so one buffer serves every full chunk.
        controller.enqueue(n === CHUNK.length ? CHUNK : CHUNK.slice(0, n));
        left -= n;
        if (left <= 0) controller.close();
      },
    },
    // Nothing generated ahead of what the connection takes: the client's pace drives the stream.
    { highWaterMark: 0 },
  );
}

async function countBody(body: ReadableStream<Uint8Array> | null): Promise<number> {
  let bytes = 0;
  if (body) for await (const chunk of body) bytes += chunk.byteLength;
  return bytes;
}

Bun.serve({
  hostname: "127.0.0.1",
  port,
  // Uploads of any benchmark size (Bun's default refuses bodies over 128 MB).
  maxRequestBodySize: 2 ** 50,
  idleTimeout: 60,
  async fetch(request, server) {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return server.upgrade(request) ? undefined : new Response("upgrade failed\n", { status: 400 });
    }
    const url = new URL(request.url);
    const name = /^\/files\/([\w.-]+)$/.exec(url.pathname)?.[1];
    if (name !== undefined) {
      const path = join(dir, name);
      if (!existsSync(path)) return new Response("not found\n", { status: 404 });
      return new Response(Bun.file(path), { headers: { "content-type": "application/octet-stream" } });
    }
    switch (url.pathname) {
      case "/chunked": {
        const bytes = Number(url.searchParams.get("bytes"));
        if (!Number.isSafeInteger(bytes) || bytes <= 0) return new Response("bytes=N wanted\n", { status: 400 });
        return new Response(generated(bytes), { headers: { "content-type": "application/octet-stream" } });
      }
      case "/upload":
        if (request.method !== "PUT" && request.method !== "POST") return new Response("PUT or POST\n", { status: 405 });
        return new Response(`${await countBody(request.body)}\n`);
      case "/ready":
        return new Response("ok\n");
      default:
        return new Response("not found\n", { status: 404 });
    }
  },
  websocket: {
    message(ws, message) {
      ws.send(message);
    },
  },
});
