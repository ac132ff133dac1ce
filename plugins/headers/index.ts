// headers: set, add or remove request headers on the way up and response headers on the way down,
// like nginx's proxy_set_header / add_header or Traefik's headers middleware.
import { z } from "zod";
import { definePlugin } from "../../gateway/mod.ts";

const name = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: "not a header name" });
const edits = z.strictObject({
  set: z.record(name, z.string()).default({}),
  add: z.record(name, z.string()).default({}),
  remove: z.array(name).default([]),
}).default({ set: {}, add: {}, remove: [] });

const options = z.strictObject({ request: edits, response: edits });

type Edits = z.output<typeof edits>;

/** Compile the edits once into a function applied per request. */
function compile(e: Edits): ((headers: Headers) => void) | undefined {
  const set = Object.entries(e.set);
  const add = Object.entries(e.add);
  if (set.length + add.length + e.remove.length === 0) return undefined;
  return (headers) => {
    for (const n of e.remove) headers.delete(n);
    for (const [n, v] of set) headers.set(n, v);
    for (const [n, v] of add) headers.append(n, v);
  };
}

export default definePlugin({
  name: "headers",
  options,
  setup(o) {
    const onRequest = compile(o.request);
    const onResponse = compile(o.response);
    return {
      ...(onRequest && { beforeUpstream: (ctx) => onRequest(ctx.upstream.headers) }),
      ...(onResponse && { afterUpstream: (_ctx, response) => onResponse(response.headers) }),
    };
  },
});
