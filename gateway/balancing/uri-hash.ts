// uri-hash (HAProxy `balance uri`, nginx `hash $request_uri`): the request's path and query as received decide
// the server, so each URL is cached by one server. Always the URI, whatever the pool's `hash` says (that
// setting is for consistent-hash). A TCP pool has no URI: the client address is used instead of sending every
// connection to one server. needsHashKey is true because the pool fills `input.uri` only then (the `hash` key it
// computes alongside is not read). Mapping and fail-over: weighted-hash.ts.
import type { Selector, SelectorFactory } from "./selector.ts";
import { hashString } from "./hash.ts";
import { WeightedHash } from "./weighted-hash.ts";

export const uriHash: SelectorFactory = (options): Selector => {
  const table = new WeightedHash(options.servers);
  return {
    needsHashKey: true,
    pick: (servers, eligible, input) => table.pick(servers, eligible, hashString(input.uri ?? input.clientIp, 0), input.now),
  };
};
