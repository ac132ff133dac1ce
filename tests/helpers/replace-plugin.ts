// A test plugin: answers in place of the upstream's response when the request asks it to (x-replace), or
// throws in afterUpstream (x-throw) — both leave the upstream's body unread.
import { definePlugin } from "../../gateway/mod.ts";

export default definePlugin({
  name: "test-replace",
  setup() {
    return {
      afterUpstream(ctx) {
        if (ctx.request.headers.has("x-replace")) return new Response("replaced by plugin", { status: 203 });
        if (ctx.request.headers.has("x-throw")) throw new Error("plugin failed on purpose");
      },
    };
  },
});
