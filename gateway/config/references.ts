// Checks across sections of a config that already passed the schema: names that must point at
// something, regexes that must compile, addresses that must not clash. They run at load so a typo is
// refused up front (and a bad SIGHUP reload keeps the running config) instead of failing per request.
import { isIP } from "node:net";
import type { Config } from "./schema.ts";
import { isLoopback, parseAddress, type ListenAddress } from "./address.ts";
import { ProblemList, didYouMean, formatPath } from "./errors.ts";
import { validateSniKey } from "../l4/sni.ts";
import { listenAddress } from "./http-listeners.ts";

/** `"~REGEX -> /replacement"` split at the first arrow; null when the text is not a rewrite. */
export function parseRewrite(text: string): { pattern: string; replacement: string } | null {
  const m = /^~(.+?)\s+->\s+(.*)$/s.exec(text);
  return m ? { pattern: m[1]!, replacement: m[2]! } : null;
}

/** Why `source` is not a regular expression, or null when it compiles. */
function regexError(source: string): string | null {
  try {
    new RegExp(source);
    return null;
  } catch (e) {
    // Engines phrase it differently (JSC: "...: missing )", V8: "...: /(/: Unterminated group"): keep the reason only.
    return String((e as Error).message)
      .replace(/^Invalid regular expression:\s*/, "")
      .replace(/^\/.*\/[a-z]*:\s*/s, "");
  }
}

type Path = (string | number)[];

/** Every problem across sections of `config`, each at its path (none when there are none). */
export function checkReferences(config: Config, knownBalancers: readonly string[]): ProblemList {
  const problems = new ProblemList(config);
  const pools = config.pools;
  const names = Object.keys(pools);
  const ofMode = (mode: "http" | "tcp") => names.filter((n) => pools[n]!.mode === mode);

  // ── pools ──
  for (const [name, pool] of Object.entries(pools)) {
    if (!knownBalancers.includes(pool.balance)) {
      const hint = didYouMean(pool.balance, knownBalancers);
      problems.add(["pools", name, "balance"], hint ? "unknown balancing algorithm" : `expected one of: ${knownBalancers.join(", ")}`, hint);
    }
    // Ids name servers in /status, metrics and sticky cookies, so two servers must never share one.
    const seen = new Map<string, number>();
    pool.servers.forEach((server, i) => {
      const id = server.id ?? ("srv" in server ? server.srv : defaultServerId("url" in server ? server.url : server.address));
      const first = seen.get(id);
      if (first === undefined) seen.set(id, i);
      else {
        const why = server.id === undefined ? "duplicate server id (the default id is host:port; set an id)" : "duplicate server id";
        problems.add(["pools", name, "servers", i, "id"], `${why}, also servers[${first}]`, "", id);
      }
      // An address stands for itself: only a name can be looked up for the servers behind it.
      if (!("srv" in server) && server.resolve) {
        const host =
          "url" in server
            ? new URL(server.url).hostname.replace(/^\[|\]$/g, "")
            : server.address.slice(0, server.address.lastIndexOf(":")).replace(/^\[|\]$/g, "");
        if (host === "" || isIP(host) !== 0)
          problems.add(
            ["pools", name, "servers", i, "resolve"],
            "needs a DNS name to look up, not an address",
            "",
            "url" in server ? server.url : server.address,
          );
      }
    });
  }

  // ── routes ──
  config.routes.forEach((route, i) => {
    const at: Path = ["routes", i];
    if (route.pool !== undefined) {
      const target = pools[route.pool];
      if (!target) problems.add([...at, "pool"], "no such pool", didYouMean(route.pool, ofMode("http")));
      else if (target.mode === "tcp") problems.add([...at, "pool"], `"${route.pool}" is a tcp pool; a route needs an http pool`);
    }
    if (route.stripPrefix !== undefined && route.rewrite !== undefined) {
      problems.add([...at, "stripPrefix"], "cannot be combined with rewrite; put the prefix into the rewrite pattern");
    }
    if (route.rewrite !== undefined) {
      const parsed = parseRewrite(route.rewrite.path);
      const error = parsed ? regexError(parsed.pattern) : "missing the -> arrow";
      if (error !== null) problems.add([...at, "rewrite", "path"], `not a valid regular expression: ${error}`);
    }
    const match = route.match;
    if (match?.path !== undefined) eachValue(match.path, [...at, "match", "path"], checkRegex);
    for (const field of ["headers", "query", "cookies"] as const) {
      for (const [key, value] of Object.entries(match?.[field] ?? {})) eachValue(value, [...at, "match", field, key], checkRegex);
    }
  });

  function checkRegex(text: string, path: Path) {
    if (!text.startsWith("~")) return;
    const error = regexError(text.slice(1));
    if (error !== null) problems.add(path, `not a valid regular expression: ${error}`);
  }

  // ── L4 listeners ── (both forward raw connections, so their pools must be tcp pools)
  const needTcpPool = (name: string, path: Path, what: string) => {
    const target = pools[name];
    if (!target) problems.add(path, "no such pool", didYouMean(name, ofMode("tcp")));
    else if (target.mode !== "tcp") problems.add(path, `"${name}" is an http pool; a ${what} needs a pool with mode "tcp"`);
  };
  config.tcp.forEach((l, i) => {
    if (l.pool !== undefined) needTcpPool(l.pool, ["tcp", i, "pool"], "tcp listener");
    for (const [host, name] of Object.entries(l.sni ?? {})) {
      const badName = validateSniKey(host);
      if (badName) problems.add(["tcp", i, "sni", host], `not a server name pattern: ${badName}`, "", host);
      else needTcpPool(name, ["tcp", i, "sni", host], "tcp listener");
    }
  });
  config.udp.forEach((l, i) => needTcpPool(l.pool, ["udp", i, "pool"], "udp listener"));

  // ── addresses ──
  if (config.admin !== false && config.admin.token === undefined) {
    const hostname = parseAddress(config.admin.listen)?.hostname;
    if (hostname !== undefined && !isLoopback(hostname)) {
      problems.add(["admin", "token"], "required when admin.listen is not a loopback address");
    }
  }
  // TCP and UDP ports are separate namespaces: a udp listener may share a port number with a tcp one.
  const streams: [Path, string][] = config.listen.map((a, i): [Path, string] => [
    typeof a === "string" ? ["listen", i] : ["listen", i, "address"],
    listenAddress(a),
  ]);
  if (config.admin !== false) streams.push([["admin", "listen"], config.admin.listen]);
  config.tcp.forEach((l, i) => streams.push([["tcp", i, "listen"], l.listen]));
  checkClashes(problems, streams);
  checkClashes(
    problems,
    config.udp.map((l, i): [Path, string] => [["udp", i, "listen"], l.listen]),
  );

  return problems;
}

/** Call `fn` on a one-or-many value, with `[i]` in the path only when it was written as an array. */
function eachValue(value: string | string[], path: Path, fn: (text: string, path: Path) => void) {
  if (Array.isArray(value)) value.forEach((v, i) => fn(v, [...path, i]));
  else fn(value, path);
}

/** host:port of a server URL or address, the default server id (as the contract says). */
export function defaultServerId(target: string): string {
  if (target.includes("://")) {
    try {
      const u = new URL(target);
      const port = u.port || (u.protocol === "https:" ? "443" : "80");
      return `${u.hostname}:${port}`;
    } catch {
      return target;
    }
  }
  return target;
}

const WILDCARD = new Set(["0.0.0.0", "::", ""]);

/** Two binds clash on the same port when the hosts are equal or either is every interface. Port 0 picks a free port. */
function clash(a: ListenAddress, b: ListenAddress): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  return a.hostname.toLowerCase() === b.hostname.toLowerCase() || WILDCARD.has(a.hostname) || WILDCARD.has(b.hostname);
}

function checkClashes(problems: ProblemList, binds: [Path, string][]) {
  const parsed = binds.map(([path, text]) => ({ path, address: parseAddress(text) }));
  parsed.forEach((b, i) => {
    if (!b.address) return;
    const earlier = parsed.slice(0, i).find((e) => e.address && clash(e.address, b.address!));
    if (earlier) problems.add(b.path, `address already used by ${formatPath(earlier.path)}`);
  });
}
