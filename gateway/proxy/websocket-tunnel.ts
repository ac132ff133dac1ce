// One WebSocket tunnel: a client socket and an upstream socket, frames relayed as they come, close codes
// carried across, backpressure both ways, and the server's pool slot held until either side ends.
import type { DownstreamHandlers, DownstreamSocket, Runtime, UpstreamSocket } from "../runtime/types.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { Pool } from "../pool/pool.ts";
import { UpstreamFailure } from "./errors.ts";

/**
 * The code to pass on for a close seen on the other side. 1005 (closed without a code) and 1006 (lost
 * without a close frame) are reserved: they may be reported, never sent (RFC 6455 §7.4.1).
 */
export function relayCloseCode(code: number): number {
  if (code === 1005) return 1000;
  if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)) return code;
  return 1011;
}

const encoder = new TextEncoder();

/** Close reasons are limited to 123 bytes of UTF-8; cut on a character boundary. */
function fitReason(reason: string): string {
  if (encoder.encode(reason).length <= 123) return reason;
  let cut = reason;
  while (encoder.encode(cut).length > 123) cut = cut.slice(0, -1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut;
}

// ---- Flow control beyond runtime/types.ts ----------------------------------------------------------
// Bun exposes all of these, Deno none: they are optional, used when present.

type Frame = string | Uint8Array;
interface UpstreamFlow {
  pause?(): void;
  resume?(): void;
  readonly bufferedAmount?: number;
}
interface DownstreamFlow {
  pause?(): void;
  resume?(): void;
}
/** Bun's ServerWebSocket.send: bytes sent, -1 = queued under backpressure, 0 = dropped (or empty message). */
type SendResult = number | void;

/** Upstream bytes buffered before the client is paused, and the level at which it is resumed. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const DRAIN_POLL_MS = 20;
/** After answering the upgrade, how long the client's socket may take to open before the tunnel is dropped. */
const DOWNSTREAM_OPEN_GRACE_MS = 10_000;

// ---- The tunnel -------------------------------------------------------------------------------------

/** The upstream answered the handshake with an HTTP status instead of 101. */
export class HandshakeRefused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

type State = "connecting" | "upgrading" | "open" | "closed";

export class Tunnel {
  private state: State = "connecting";
  private upstream?: UpstreamSocket & UpstreamFlow;
  private downstream?: DownstreamSocket & DownstreamFlow;
  /** Frames from the upstream that arrived before the client's socket opened. */
  private pending: Frame[] = [];
  /** The upstream closed before the client's socket opened: pass it on once it does. */
  private upstreamClose?: { code: number; reason: string };
  private upstreamPaused = false;
  private downstreamPaused = false;
  private drainPoll?: ReturnType<typeof setInterval>;
  private graceTimer?: ReturnType<typeof setTimeout>;
  protocol = "";

  /** The pool has counted the server busy (acquire) from the connect attempt; release gives it back. */
  constructor(readonly server: UpstreamServer, private readonly pool: Pool) {}

  /** Open the upstream socket: resolves once it is open, rejects with an UpstreamFailure or HandshakeRefused. */
  connect(runtime: Runtime, url: string, options: { protocols: string[]; headers: Headers }, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let socket: (UpstreamSocket & UpstreamFlow) | undefined;
      let lastError: Error | undefined;
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const fail = (failure: Error) => {
        if (this.state !== "connecting") return;
        settle();
        // The failed attempt's pool slot is given back by the retry loop (tryServers), not here.
        this.release(false);
        try {
          socket?.close();
        } catch {
          // Already failed: nothing to close.
        }
        reject(failure);
      };
      const timer = setTimeout(
        () => fail(new UpstreamFailure("connect", `${this.server.id}: no WebSocket handshake within ${timeoutMs}ms`)),
        timeoutMs,
      );
      const onAbort = () => fail(new UpstreamFailure("aborted", "client went away"));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });

      try {
        socket = runtime.connectWebSocket(url, options, {
          open: () => {
            if (this.state !== "connecting") return void socket?.close(1001, "gateway gave up waiting");
            settle();
            this.state = "upgrading";
            this.upstream = socket;
            this.protocol = socket!.protocol ?? "";
            resolve();
          },
          message: (data) => this.fromUpstream(data),
          error: (error) => void (lastError = error),
          close: (code, reason) => {
            if (this.state === "connecting") fail(handshakeFailure(this.server, lastError, code));
            else this.upstreamClosed(code, reason);
          },
          ping: (data) => this.state === "open" && this.downstream!.ping(data),
          pong: (data) => this.state === "open" && this.downstream!.pong(data),
        });
      } catch (error) {
        fail(handshakeFailure(this.server, error as Error, 1006));
      }
    });
  }

  /** What the runtime calls for the client's socket. `drain` is Bun's "backpressure is over". */
  readonly handlers: DownstreamHandlers & { drain(): void } = {
    open: (socket) => this.downstreamOpened(socket),
    message: (data) => this.fromDownstream(data),
    close: (code, reason) => this.downstreamClosed(code, reason),
    ping: (data) => this.state === "open" && this.upstream!.ping?.(data),
    pong: (data) => this.state === "open" && this.upstream!.pong?.(data),
    drain: () => {
      if (!this.upstreamPaused) return;
      this.upstreamPaused = false;
      this.upstream?.resume?.();
    },
  };

  /** The client's upgrade was answered: its socket should open soon; if it never does, do not leak. */
  awaitDownstream(): void {
    this.graceTimer = setTimeout(() => {
      if (this.state === "upgrading") this.shutdown(1011, "client never completed the upgrade");
    }, DOWNSTREAM_OPEN_GRACE_MS);
  }

  /** Close both sides with the same code (shutdown, failed client upgrade). */
  shutdown(code: number, reason: string): void {
    if (this.state === "closed") return;
    if (this.state === "connecting") return; // connect() owns this phase and settles it
    this.upstream?.close(code, reason);
    this.downstream?.close(code, reason);
    this.release();
  }

  private downstreamOpened(socket: DownstreamSocket): void {
    if (this.state !== "upgrading") {
      // The tunnel ended while the client's handshake was in flight.
      socket.close(1011, "upstream connection lost");
      return;
    }
    clearTimeout(this.graceTimer);
    this.state = "open";
    this.downstream = socket as DownstreamSocket & DownstreamFlow;
    for (const frame of this.pending) this.toClient(frame);
    this.pending = [];
    if (this.upstreamClose) this.upstreamClosed(this.upstreamClose.code, this.upstreamClose.reason);
  }

  private fromUpstream(data: Frame): void {
    if (this.state === "open") this.toClient(data);
    else if (this.state === "upgrading") this.pending.push(data);
  }

  private toClient(data: Frame): void {
    const sent = this.downstream!.send(data) as SendResult;
    // -1: Bun queued it in memory. Stop reading the upstream until `drain`, so the queue stays small
    // (the upstream then sees TCP backpressure) instead of growing to Bun's 16 MB drop limit.
    if (sent === -1 && !this.upstreamPaused && this.upstream?.pause) {
      this.upstreamPaused = true;
      this.upstream.pause();
    }
  }

  private fromDownstream(data: Frame): void {
    if (this.state !== "open") return;
    const upstream = this.upstream!;
    upstream.send(data);
    // The upstream client has no drain event: pause the client while too much is buffered and poll.
    if (this.downstreamPaused || !this.downstream!.pause || (upstream.bufferedAmount ?? 0) <= HIGH_WATER) return;
    this.downstreamPaused = true;
    this.downstream!.pause();
    this.drainPoll = setInterval(() => {
      if (this.state === "open" && (upstream.bufferedAmount ?? 0) > LOW_WATER) return;
      clearInterval(this.drainPoll);
      this.downstreamPaused = false;
      if (this.state === "open") this.downstream!.resume?.();
    }, DRAIN_POLL_MS);
  }

  private upstreamClosed(code: number, reason: string): void {
    if (this.state === "upgrading") {
      this.upstreamClose = { code, reason };
      return;
    }
    if (this.state !== "open") return;
    this.downstream!.close(relayCloseCode(code), fitReason(reason || lostReason(code, "upstream")));
    this.release();
  }

  private downstreamClosed(code: number, reason: string): void {
    if (this.state === "closed" || this.state === "connecting") return;
    if (!this.upstreamClose) this.upstream?.close(relayCloseCode(code), fitReason(reason || lostReason(code, "client")));
    this.release();
  }

  /** The tunnel is over: everything it holds is given back exactly once. */
  private release(givePoolSlotBack = true): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.pending = [];
    clearTimeout(this.graceTimer);
    clearInterval(this.drainPoll);
    if (givePoolSlotBack) this.pool.release(this.server);
  }
}

function lostReason(code: number, side: string): string {
  return code === 1006 || code === 0 ? `${side} connection lost` : "";
}

/**
 * Why the upstream handshake failed. Adapters put the HTTP status on the error when the upstream
 * answered one; anything about the handshake itself (protocol mismatch, bad accept) is a bad response;
 * everything else is a connection failure, worth another server.
 */
export function handshakeFailure(server: UpstreamServer, error: Error | undefined, code: number): Error {
  const detail = `${server.id}: ${error?.message ?? `closed during the handshake (${code})`}`;
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status === "number") return new HandshakeRefused(status, detail);
  if (error && /protocol|101|handshake|Sec-WebSocket|upgrade/i.test(error.message)) return new UpstreamFailure("bad-response", detail);
  return new UpstreamFailure("connect", detail, { cause: error });
}
