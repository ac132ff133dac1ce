// headers: set, add or remove request headers on the way up and response headers on the way down,
// like nginx's proxy_set_header / add_header or Traefik's headers middleware.
//
// It works in the onRequest phase, on the engine's byte path: request edits go upstream as the head is written,
// response edits are on whatever answers the request (the upstream, another plugin, the gateway's own errors).
// Values are checked at load, so a bad one is a config error, never a failed request. Only edits of the
// forwarding fields the gateway writes itself (X-Forwarded-*, X-Request-Id) need the hono path, where they are
// made after the gateway's own, as before.
import { z } from "zod";
import { definePlugin, type GatewayRequest, type PluginHooks } from "../../gateway/mod.ts";
import { fieldValue } from "../shared/field-value.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Fields that frame the message or describe the connection: the gateway writes them, no plugin can. */
const FRAMING = ["content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"];
/** Request fields no edit can change, and why. */
const REQUEST_OWNED = new Map<string, string>([
  ...FRAMING.map((n): [string, string] => [n, "it frames the request or describes the connection"]),
  ["expect", "the gateway answers 100-continue itself"],
  ["host", "a pool's preserveHost (or a route's) decides it: false sends the server's own host"],
]);
/** Response fields no edit can change, and why. */
const RESPONSE_OWNED = new Map<string, string>([
  ...FRAMING.filter((n) => n !== "te").map((n): [string, string] => [n, "it frames the answer or describes the connection"]),
  ["x-request-id", "every answer carries the request's id"],
]);
/** Request fields the gateway writes after the onRequest phase: edits of them are made on the hono path. */
const FORWARDING = new Set(["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"]);

const name = z.string().regex(TOKEN, { message: "not a header name" });

const editsOf = (owned: ReadonlyMap<string, string>) =>
  z
    .strictObject({
      set: z.record(name, fieldValue).default({}),
      add: z.record(name, fieldValue).default({}),
      remove: z.array(name).default([]),
    })
    .superRefine((e, ctx) => {
      const refuse = (field: string, path: (string | number)[]) => {
        const why = owned.get(field.toLowerCase());
        if (why) ctx.addIssue({ code: "custom", path, message: `the gateway writes ${field.toLowerCase()} itself: ${why}` });
      };
      for (const kind of ["set", "add"] as const) for (const field of Object.keys(e[kind])) refuse(field, [kind, field]);
      e.remove.forEach((field, i) => refuse(field, ["remove", i]));
    })
    .default({ set: {}, add: {}, remove: [] });

const options = z.strictObject({ request: editsOf(REQUEST_OWNED), response: editsOf(RESPONSE_OWNED) });

type Edits = z.output<ReturnType<typeof editsOf>>;
type Edit = (req: GatewayRequest) => void;

/**
 * The request edits, as the onRequest phase makes them: remove, then set, then add. There is no "append" toward
 * the upstream, so `add` sets the field to what it would have become — the client's value (or the one `set`
 * gave), then the added one, joined with ", " as one field, as a list header's fields combine (RFC 9110 §5.3).
 */
function requestEdits(e: Edits): Edit | undefined {
  const removed = new Set(e.remove.map((n) => n.toLowerCase()));
  const set = new Map<string, [string, string]>();
  for (const [n, v] of Object.entries(e.set)) set.set(n.toLowerCase(), [n, v]);
  const added = new Map<string, [string, string]>();
  for (const [n, v] of Object.entries(e.add)) {
    const before = added.get(n.toLowerCase());
    added.set(n.toLowerCase(), before ? [before[0], `${before[1]}, ${v}`] : [n, v]);
  }
  const steps: Edit[] = [];
  for (const n of e.remove) steps.push((req) => req.removeHeader(n));
  for (const [lower, [n, v]] of set) {
    const more = added.get(lower);
    const value = more ? `${v}, ${more[1]}` : v;
    steps.push((req) => req.setHeader(n, value));
  }
  for (const [lower, [n, v]] of added) {
    if (set.has(lower)) continue;
    if (removed.has(lower)) steps.push((req) => req.setHeader(n, v));
    else {
      steps.push((req) => {
        const client = req.header(n);
        req.setHeader(n, client === undefined ? v : `${client}, ${v}`);
      });
    }
  }
  return together(steps);
}

/** The response edits: remove, then set (replacing the upstream's field), then add (beside the upstream's). */
function responseEdits(e: Edits): Edit | undefined {
  const steps: Edit[] = [];
  for (const n of e.remove) steps.push((req) => req.removeResponseHeader(n));
  for (const [n, v] of Object.entries(e.set)) steps.push((req) => req.setResponseHeader(n, v));
  for (const [n, v] of Object.entries(e.add)) steps.push((req) => req.appendResponseHeader(n, v));
  return together(steps);
}

function together(steps: Edit[]): Edit | undefined {
  if (steps.length === 0) return undefined;
  if (steps.length === 1) return steps[0];
  return (req) => {
    for (const step of steps) step(req);
  };
}

/** The request edits on a Headers object, after the gateway wrote its forwarding fields (the hono path). */
function headersEdits(e: Edits): (headers: Headers) => void {
  const set = Object.entries(e.set);
  const add = Object.entries(e.add);
  return (headers) => {
    for (const n of e.remove) headers.delete(n);
    for (const [n, v] of set) headers.set(n, v);
    for (const [n, v] of add) headers.append(n, v);
  };
}

function touchesForwarding(e: Edits): boolean {
  return [...e.remove, ...Object.keys(e.set), ...Object.keys(e.add)].some((n) => FORWARDING.has(n.toLowerCase()));
}

export default definePlugin({
  name: "headers",
  options,
  setup(o) {
    const hooks: PluginHooks = {};
    const onResponse = responseEdits(o.response);
    if (touchesForwarding(o.request)) {
      const edit = headersEdits(o.request);
      hooks.beforeUpstream = (ctx) => edit(ctx.upstream.headers);
      if (onResponse) hooks.onRequest = onResponse;
      return hooks;
    }
    const onRequest = requestEdits(o.request);
    if (onRequest && onResponse) {
      hooks.onRequest = (req) => {
        onRequest(req);
        onResponse(req);
      };
    } else if (onRequest ?? onResponse) hooks.onRequest = onRequest ?? onResponse;
    return hooks;
  },
});
