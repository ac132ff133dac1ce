// `forwardClaims`: claims of a verified token passed to the upstream as request headers ({ "sub": "x-user-id" }).
// A claim name may be a dotted path into nested objects ("realm_access.roles") when no top-level claim has that
// name. Strings go as they are, numbers and booleans as text, arrays joined with ", ", objects as JSON; text
// outside ASCII goes as its UTF-8 bytes. A value with control characters cannot be a header: the token is refused.

export type HeaderPairs = ReadonlyArray<readonly [name: string, value: string]>;

export class UnforwardableClaim extends Error {}

export function compileClaimHeaders(forward: Record<string, string>): (payload: Record<string, unknown>) => HeaderPairs {
  const entries = Object.entries(forward).map(([claim, header]) => ({ claim, path: claim.split("."), header }));
  return (payload) => {
    const pairs: [string, string][] = [];
    for (const { claim, path, header } of entries) {
      const value = claim in payload ? payload[claim] : path.length > 1 ? dig(payload, path) : undefined;
      if (value === undefined || value === null) continue;
      const text = headerText(value);
      if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(text)) throw new UnforwardableClaim(`claim ${claim} holds control characters`);
      pairs.push([header, text]);
    }
    return pairs;
  };
}

function dig(payload: Record<string, unknown>, path: readonly string[]): unknown {
  let here: unknown = payload;
  for (const key of path) {
    if (typeof here !== "object" || here === null || !Object.hasOwn(here, key)) return undefined;
    here = (here as Record<string, unknown>)[key];
  }
  return here;
}

function headerText(value: unknown): string {
  const text = Array.isArray(value) ? value.map(itemText).join(", ") : itemText(value);
  // Header values are bytes; a JS header string carries one byte per character (what the engine writes).
  if (/^[\u0000-\u007f]*$/.test(text)) return text;
  let bytes = "";
  for (const byte of new TextEncoder().encode(text)) bytes += String.fromCharCode(byte);
  return bytes;
}

function itemText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
