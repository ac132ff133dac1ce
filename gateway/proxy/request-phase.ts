// The onRequest phase: plugins read the parsed request and decide, before any server is chosen, on the engine's
// byte path — no Request, Headers or Response object. What they change is recorded as header edits, applied
// when the upstream head and the answer's head are written (header-rules.ts), and what they answer is written as
// one block of bytes. Made only for requests whose route (or the global plugins) have an onRequest hook.
import type { GatewayAnswer, GatewayRequest } from "../plugin/types.ts";
import type { RequestHead } from "../http/head.ts";
import { sameNameAt, sameName } from "../http/head.ts";
import { forwardedClient } from "./forwarded-client.ts";
import { SAFE_REQUEST_ID } from "./headers.ts";
import type { RequestView } from "../routing/view.ts";
import type { AddressSet } from "../config/cidr.ts";
import { latin1, reasonFor } from "../http/response-writer.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * What a field value may not hold: control characters other than HTAB (one could split the head it is written
 * into) and characters a head's one byte each cannot carry.
 */
const NOT_IN_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** Names the gateway writes itself toward the upstream: framing, hop-by-hop fields, forwarding facts. */
const OWNED_UPSTREAM = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-request-id",
]);
/** Names the gateway writes itself toward the client. */
const OWNED_ANSWER = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "trailer", "upgrade", "x-request-id"]);

/** A plugin asked for a header the gateway cannot write: its bug, answered with a 500 like any plugin that throws. */
export class HeaderEditError extends Error {}

/** Names a plugin wrote before, already checked, with their lower-case form: plugins use a handful of fixed names. */
const CHECKED_UPSTREAM = new Map<string, string>();
const CHECKED_ANSWER = new Map<string, string>();
/** Enough for any set of plugins; a plugin making names up per request is checked every time past it. */
const CHECKED_NAMES_KEPT = 512;
/** Plugin answers' bodies as UTF-8: one encoder for all of them. */
const utf8 = new TextEncoder();

function checked(name: string, value: string, owned: ReadonlySet<string>, known: Map<string, string>): string {
  let lower = known.get(name);
  if (lower === undefined) {
    if (!TOKEN.test(name)) throw new HeaderEditError(`not a header name: ${JSON.stringify(name)}`);
    lower = name.toLowerCase();
    if (owned.has(lower)) throw new HeaderEditError(`the gateway writes ${lower} itself`);
    if (known.size < CHECKED_NAMES_KEPT) known.set(name, lower);
  }
  if (value !== "" && NOT_IN_VALUE.test(value)) throw new HeaderEditError(`control character or non-latin1 character in the value of ${lower}`);
  return lower;
}

/**
 * Changes to one side's header fields: names whose fields (as received) are dropped, and fields added after the
 * kept ones. A name set twice keeps the last value. Flat arrays, not sets or tuples: a request makes a few edits,
 * and the head writer asks `drops` once per field.
 */
export class HeaderEdits {
  /** Lower-case names whose received fields are dropped. */
  private readonly removed: string[] = [];
  /** Added fields in threes: lower-case name, name as given, value. */
  private readonly added: string[] = [];

  set(lower: string, name: string, value: string): void {
    this.remove(lower);
    this.added.push(lower, name, value);
  }

  append(lower: string, name: string, value: string): void {
    this.added.push(lower, name, value);
  }

  remove(lower: string): void {
    if (!this.removed.includes(lower)) this.removed.push(lower);
    const added = this.added;
    for (let i = added.length - 3; i >= 0; i -= 3) if (added[i] === lower) added.splice(i, 3);
  }

  /** Whether a received field named `text[start..end)` is dropped. */
  drops(text: string, start: number, end: number): boolean {
    const removed = this.removed;
    for (let i = 0; i < removed.length; i++) if (sameNameAt(text, start, end, removed[i]!)) return true;
    return false;
  }

  /** Whether a received field named `name` is dropped. */
  dropsName(name: string): boolean {
    const removed = this.removed;
    for (let i = 0; i < removed.length; i++) if (sameName(name, removed[i]!)) return true;
    return false;
  }

  /** The added fields as head lines. */
  lines(): string {
    const added = this.added;
    let text = "";
    for (let i = 0; i < added.length; i += 3) text += `${added[i + 1]}: ${added[i + 2]}\r\n`;
    return text;
  }

  /** The added fields, for a Headers object (the hono path). */
  get fields(): readonly (readonly [string, string])[] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.added.length; i += 3) out.push([this.added[i + 1]!, this.added[i + 2]!]);
    return out;
  }
}

export interface PhaseFacts {
  readonly head: RequestHead;
  readonly view: RequestView;
  readonly peerIp: string;
  readonly trustedProxies: AddressSet;
  readonly requestId: string;
  readonly route: string;
}

export class PhaseRequest implements GatewayRequest {
  private _vars: Map<string, unknown> | undefined;
  private _clientIp: string | undefined;
  private settledId: string | undefined;
  /** What the plugins changed upstream; undefined while nothing. */
  upstream: HeaderEdits | undefined;
  /** What the plugins changed in the answer; undefined while nothing. */
  answer: HeaderEdits | undefined;

  constructor(private readonly facts: PhaseFacts) {}

  get method(): string {
    return this.facts.head.method;
  }
  get host(): string {
    return this.facts.head.host;
  }
  get path(): string {
    return this.facts.view.path;
  }
  get search(): string {
    return this.facts.view.search;
  }
  get peerIp(): string {
    return this.facts.peerIp;
  }
  get requestId(): string {
    return this.settledId ?? this.facts.requestId;
  }

  setRequestId(id: string): void {
    if (!SAFE_REQUEST_ID.test(id)) throw new HeaderEditError(`not a request id: ${JSON.stringify(id.slice(0, 40))}`);
    this.settledId = id;
  }

  /** The id a hook chose with setRequestId, if one did. */
  get chosenRequestId(): string | undefined {
    return this.settledId;
  }
  get route(): string {
    return this.facts.route;
  }
  get vars(): Map<string, unknown> {
    return (this._vars ??= new Map());
  }
  /** The vars map if a hook made one (handed on to the hono path's ProxyContext). */
  get varsIfAny(): Map<string, unknown> | undefined {
    return this._vars;
  }

  get clientIp(): string {
    return (this._clientIp ??= this.effectiveClient());
  }

  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    const { head } = this.facts;
    const source = head.source;
    let joined: string | undefined;
    if (source) {
      const { text, spans } = source;
      for (let o = 0; o < spans.length; o += 4) {
        if (!sameNameAt(text, spans[o]!, spans[o + 1]!, lower)) continue;
        const value = text.substring(spans[o + 2]!, spans[o + 3]!);
        joined = joined === undefined ? value : `${joined}, ${value}`;
      }
      return joined;
    }
    const fields = head.fields;
    for (let i = 0; i < fields.length; i += 2) {
      if (!sameName(fields[i]!, lower)) continue;
      joined = joined === undefined ? fields[i + 1]! : `${joined}, ${fields[i + 1]!}`;
    }
    return joined;
  }

  cookie(name: string): string | undefined {
    return this.facts.view.cookie(name);
  }

  query(name: string): string | undefined {
    return this.facts.view.queryValues(name)?.[0];
  }

  setHeader(name: string, value: string): void {
    (this.upstream ??= new HeaderEdits()).set(checked(name, value, OWNED_UPSTREAM, CHECKED_UPSTREAM), name, value);
  }
  removeHeader(name: string): void {
    (this.upstream ??= new HeaderEdits()).remove(checked(name, "", OWNED_UPSTREAM, CHECKED_UPSTREAM));
  }
  setResponseHeader(name: string, value: string): void {
    (this.answer ??= new HeaderEdits()).set(checked(name, value, OWNED_ANSWER, CHECKED_ANSWER), name, value);
  }
  appendResponseHeader(name: string, value: string): void {
    (this.answer ??= new HeaderEdits()).append(checked(name, value, OWNED_ANSWER, CHECKED_ANSWER), name, value);
  }
  removeResponseHeader(name: string): void {
    (this.answer ??= new HeaderEdits()).remove(checked(name, "", OWNED_ANSWER, CHECKED_ANSWER));
  }

  /** The right-most X-Forwarded-For address that is not a trusted proxy, when the peer is one; else the peer. */
  private effectiveClient(): string {
    const { peerIp, trustedProxies } = this.facts;
    return trustedProxies.has(peerIp) ? forwardedClient(peerIp, this.header("x-forwarded-for"), trustedProxies) : peerIp;
  }
}

/**
 * A plugin's answer as bytes: its status, its headers (checked as edits are), the answer edits of the phase so
 * far, X-Request-Id, a Content-Length, and its body unless `headOnly` (HEAD).
 */
export function answerBytes(
  answer: GatewayAnswer,
  requestId: string,
  edits: HeaderEdits | undefined,
  close: boolean,
  headOnly: boolean,
  ownLines = "",
): Uint8Array {
  const status = answer.status;
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new HeaderEditError(`not a status a plugin can answer with: ${status}`);
  let body: Uint8Array;
  let text = `HTTP/1.1 ${status} ${reasonFor(status)}\r\n`;
  if (answer.json !== undefined) {
    body = utf8.encode(JSON.stringify(answer.json));
    if (!hasHeader(answer.headers, "content-type")) text += "content-type: application/json\r\n";
  } else if (typeof answer.body === "string") {
    body = utf8.encode(answer.body);
    if (!hasHeader(answer.headers, "content-type")) text += "content-type: text/plain; charset=utf-8\r\n";
  } else body = answer.body ?? new Uint8Array(0);
  if (answer.headers) {
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const one of typeof value === "string" ? [value] : value) {
        checked(name, one, OWNED_ANSWER, CHECKED_ANSWER);
        if (edits?.dropsName(name)) continue;
        text += `${name}: ${one}\r\n`;
      }
    }
  }
  if (edits) text += edits.lines();
  text += ownLines; // the listener's (HSTS)
  // 204 and 304 have no body, and a 204 no Content-Length (RFC 9110 §8.6, §15.3.5).
  const bodyless = status === 204 || status === 304;
  text += `x-request-id: ${requestId}\r\n${bodyless ? "" : `content-length: ${body.length}\r\n`}${close ? "connection: close\r\n" : ""}\r\n`;
  const headBytes = latin1(text);
  if (headOnly || bodyless || body.length === 0) return headBytes;
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes, 0);
  out.set(body, headBytes.length);
  return out;
}

function hasHeader(headers: GatewayAnswer["headers"], lower: string): boolean {
  if (!headers) return false;
  for (const name of Object.keys(headers)) if (name.toLowerCase() === lower) return true;
  return false;
}
