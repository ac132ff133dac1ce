// Runs a route's plugin middleware around its handler with hono's semantics: each middleware gets
// `next`, may answer by returning a Response, and sees the handler's answer in `c.res` after `next()`.
import type { Context, MiddlewareHandler } from "hono";
import type { GatewayEnv } from "./types.ts";

export async function runMiddleware(
  c: Context<GatewayEnv>,
  middleware: readonly MiddlewareHandler<GatewayEnv>[],
  handler: () => Response | Promise<Response>,
): Promise<Response> {
  const dispatch = async (i: number): Promise<void> => {
    if (i === middleware.length) {
      c.res = await handler();
      return;
    }
    const answer = await middleware[i]!(c, () => dispatch(i + 1));
    if (answer instanceof Response) c.res = answer;
  };
  await dispatch(0);
  return c.res;
}
