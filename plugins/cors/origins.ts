// Which origins the cors plugin lets read answers: "*" (any), an exact origin ("https://app.example.com"), a
// subdomain pattern ("https://*.example.com": any subdomain, not the apex) or a regular expression after "~",
// which must match the whole origin (so "~https://app\.example\.com" cannot be satisfied by
// "https://app.example.com.evil.net"). Compiled once; a request costs a set lookup, then the patterns in order.

export interface OriginRules {
  /** "*" was listed: every origin. */
  any: boolean;
  allows(origin: string): boolean;
}

/** The problem with one entry of `origins`, or undefined for a good one. */
export function originProblem(entry: string): string | undefined {
  if (entry === "*") return undefined;
  if (entry === "null") return 'the "null" origin is that of sandboxed frames and local files: allowing it lets any of them in';
  if (entry.startsWith("~")) {
    try {
      new RegExp(entry.slice(1));
      return undefined;
    } catch (error) {
      return `not a regular expression: ${(error as Error).message}`;
    }
  }
  const wildcard = /^(https?):\/\/\*\.([^*/:]+)(:\d{1,5})?$/.exec(entry);
  if (wildcard) return undefined;
  if (entry.includes("*")) return 'a "*" may only stand for subdomains, as in "https://*.example.com"';
  let origin = "null";
  try {
    origin = new URL(entry).origin;
  } catch {
    // reported below
  }
  // Browsers send the origin serialized: lower case, no path, no default port.
  if (origin === "null" || origin !== entry.toLowerCase()) {
    return 'not an origin as browsers send it: write scheme://host[:port] (no path, no default port), like "https://app.example.com"';
  }
  return undefined;
}

export function compileOrigins(entries: readonly string[]): OriginRules {
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  let any = false;
  for (const entry of entries) {
    if (entry === "*") any = true;
    else if (entry.startsWith("~")) patterns.push(new RegExp(`^(?:${entry.slice(1)})$`));
    else if (entry.includes("*")) {
      const [, scheme, domain, port] = /^(https?):\/\/\*\.([^*/:]+)(:\d{1,5})?$/.exec(entry)!;
      const escaped = domain!.toLowerCase().replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
      patterns.push(new RegExp(`^${scheme}://[a-z0-9-]+(?:\\.[a-z0-9-]+)*\\.${escaped}${port ? port : ""}$`));
    } else exact.add(new URL(entry).origin);
  }
  return {
    any,
    allows(origin) {
      if (any || exact.has(origin)) return true;
      for (const pattern of patterns) if (pattern.test(origin)) return true;
      return false;
    },
  };
}
