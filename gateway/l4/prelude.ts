// What a TCP listener reads before it knows where a connection goes: a PROXY header (`acceptProxy`) and/or
// the TLS ClientHello's server name (`sni`). Bytes are buffered, bounded, until the parsers have an answer;
// everything after the PROXY header (the ClientHello included) is handed on to be forwarded untouched.
import { parseProxyHeader, type ProxyAddress } from "./proxy-protocol.ts";
import { parseClientHello } from "./sni.ts";

/** Most bytes buffered for a PROXY header: v1 lines are at most 107 bytes; a v2 header is 16 + its length field. */
export const PROXY_V1_CAP = 536;
export const PROXY_V2_CAP = 16 + 65535;
/** Most bytes buffered while looking for the ClientHello's server name (a hello may span several records). */
export const SNI_CAP = 16 * 1024;

export type PreludeStep =
  | { kind: "more" }
  | { kind: "refuse"; what: "proxy" | "sni"; reason: string }
  | {
      kind: "done";
      /** The client's address as the PROXY header gave it (undefined without one, or for a LOCAL header). */
      source?: ProxyAddress;
      destination?: ProxyAddress;
      /** The ClientHello's server name (undefined when it has none, or when the listener does not route by SNI). */
      serverName?: string;
      /** Everything received after the PROXY header: to be forwarded first. */
      rest: Uint8Array;
    };

export class Prelude {
  private buffer = new Uint8Array(0);
  private proxyDone: boolean;
  private source: ProxyAddress | undefined;
  private destination: ProxyAddress | undefined;

  constructor(private readonly wants: { proxy: boolean; sni: boolean }) {
    this.proxyDone = !wants.proxy;
  }

  /** True when nothing needs to be read before connecting. */
  get needed(): boolean {
    return this.wants.proxy || this.wants.sni;
  }

  /** Bytes buffered so far. */
  get size(): number {
    return this.buffer.byteLength;
  }

  /** Add bytes from the client (copied) and say whether the prelude is complete. */
  push(chunk: Uint8Array): PreludeStep {
    const grown = new Uint8Array(this.buffer.byteLength + chunk.byteLength);
    grown.set(this.buffer, 0);
    grown.set(chunk, this.buffer.byteLength);
    this.buffer = grown;
    return this.step();
  }

  /** The client half-closed before the prelude was complete. */
  end(): PreludeStep {
    const step = this.step();
    if (step.kind !== "more") return step;
    return { kind: "refuse", what: this.proxyDone ? "sni" : "proxy", reason: "the client closed before sending it whole" };
  }

  private step(): PreludeStep {
    if (!this.proxyDone) {
      const result = parseProxyHeader(this.buffer);
      if (result.kind === "invalid") return { kind: "refuse", what: "proxy", reason: `bad PROXY header: ${result.reason}` };
      if (result.kind === "incomplete") {
        const cap = this.buffer[0] === 0x0d ? PROXY_V2_CAP : PROXY_V1_CAP;
        if (this.buffer.byteLength >= cap) return { kind: "refuse", what: "proxy", reason: `no complete PROXY header in ${cap} bytes` };
        return { kind: "more" };
      }
      this.proxyDone = true;
      this.source = result.source;
      this.destination = result.destination;
      this.buffer = this.buffer.subarray(result.consumed);
    }
    let serverName: string | undefined;
    if (this.wants.sni) {
      if (this.buffer.byteLength === 0) return { kind: "more" };
      const hello = parseClientHello(this.buffer);
      if (hello.kind === "invalid") return { kind: "refuse", what: "sni", reason: `not a TLS ClientHello: ${hello.reason}` };
      if (hello.kind === "incomplete") {
        if (this.buffer.byteLength >= SNI_CAP) return { kind: "refuse", what: "sni", reason: `no complete ClientHello in ${SNI_CAP} bytes` };
        return { kind: "more" };
      }
      serverName = hello.serverName;
    }
    return { kind: "done", source: this.source, destination: this.destination, serverName, rest: this.buffer };
  }
}
