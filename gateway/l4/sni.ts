// SNI routing for `tcp` listeners (`"sni": { "db.example.com": "pg-tls", "*.example.com": "web", "*": "default" }`):
// the ClientHello parser (tls-client-hello.ts) finds the name, this table turns it into a pool name.
export { parseClientHello, CLIENT_HELLO_MAX_LENGTH, TLS_MAX_PLAINTEXT_RECORD, type ClientHelloResult } from "./tls-client-hello.ts";

/** Names compare case-insensitively and "example.com." is "example.com" (DNS root dot). */
function normalize(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/**
 * What is wrong with one key of an `sni` table, or undefined. Allowed: an exact name, `*.suffix` (any
 * subdomain of suffix, not suffix itself) and `*` (the default). A `*` anywhere else (`a.*.com`, `*foo.com`)
 * is refused instead of being read as a literal name no client could send.
 */
export function validateSniKey(key: string): string | undefined {
  if (key === "*") return undefined;
  const name = key.startsWith("*.") ? key.slice(2) : key;
  const normal = normalize(name);
  if (normal === "") return "empty server name";
  if (normal.includes("*")) return "'*' is only allowed as '*' (default) or as the first label ('*.example.com')";
  for (const label of normal.split(".")) {
    if (label === "") return "empty label in server name";
    if (label.length > 63) return "server name label longer than 63 characters";
    if (!/^[a-z0-9_-]+$/.test(label)) return "server name may contain only letters, digits, '-', '_' and '.'";
  }
  return undefined;
}

/**
 * Compiles an `sni` table into a lookup. Precedence: an exact name, then the wildcard with the longest
 * suffix (`*.a.example.com` beats `*.example.com` for x.a.example.com), then `*`, which also takes clients
 * that sent no SNI. A lookup costs one map probe per label of the name. Throws on keys `validateSniKey`
 * refuses, or on two keys that differ only in case or a trailing dot (the config check should report
 * these first; throwing keeps an ambiguous table from silently routing by insertion order).
 */
export function compileSniRoutes(table: Record<string, string>): (serverName: string | undefined) => string | undefined {
  const exact = new Map<string, string>();
  const wildcard = new Map<string, string>(); // suffix without "*." → target
  let fallback: string | undefined;
  for (const [key, target] of Object.entries(table)) {
    const problem = validateSniKey(key);
    if (problem) throw new Error(`sni key ${JSON.stringify(key)}: ${problem}`);
    if (key === "*") {
      fallback = target;
      continue;
    }
    const map = key.startsWith("*.") ? wildcard : exact;
    const name = normalize(key.startsWith("*.") ? key.slice(2) : key);
    if (map.has(name)) throw new Error(`sni key ${JSON.stringify(key)} repeats another key`);
    map.set(name, target);
  }

  return (serverName) => {
    if (serverName === undefined || serverName === "") return fallback;
    const name = normalize(serverName);
    const hit = exact.get(name);
    if (hit !== undefined) return hit;
    if (wildcard.size > 0) {
      // Drop one leading label at a time: the first suffix found is the longest, and at least one label
      // is always dropped, so "*.example.com" never matches "example.com" itself.
      for (let dot = name.indexOf("."); dot >= 0; dot = name.indexOf(".", dot + 1)) {
        const target = wildcard.get(name.slice(dot + 1));
        if (target !== undefined) return target;
      }
    }
    return fallback;
  };
}
