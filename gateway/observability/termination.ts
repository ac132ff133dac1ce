// How a request ended (the access log's `termination`), read from its status when nothing more precise was
// recorded on the way: the gateway's own answers say by their status what went wrong.
import type { Termination } from "../plugin/types.ts";

/** `fromUpstream`: the status is the one an upstream (or a route's static file or redirect) answered with. */
export function terminationOf(status: number, fromUpstream: boolean): Termination {
  if (status === 101) return "upgraded";
  if (fromUpstream) return "ok";
  switch (status) {
    case 408:
      return "client-timeout";
    case 499:
      return "client-gone";
    case 500:
      return "internal-error";
    case 502:
      return "upstream-failed";
    case 503:
      return "no-server";
    case 504:
      return "timeout";
  }
  return status >= 400 ? "refused" : "ok";
}
