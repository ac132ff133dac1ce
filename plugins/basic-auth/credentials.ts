// The Basic credentials of a request (RFC 7617): `Authorization: Basic base64(user:password)`, decoded as UTF-8
// (the challenge announces charset="UTF-8"). The user is what comes before the first colon.
import { Buffer } from "node:buffer";

export type Credentials = { user: string; password: string };

// The scheme is case-insensitive (RFC 9110 §11.1); token68 is base64 here, padding included.
const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;
const BASIC_SCHEME = /^\s*Basic(\s|$)/i;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The credentials, "malformed" for a Basic header that cannot be read, or undefined when there are none. */
export function basicCredentials(authorization: string | undefined): Credentials | "malformed" | undefined {
  if (authorization === undefined || !BASIC_SCHEME.test(authorization)) return undefined;
  const encoded = BASIC.exec(authorization)?.[1];
  if (encoded === undefined || encoded.length % 4 !== 0) return "malformed";
  let text: string;
  try {
    text = utf8.decode(Buffer.from(encoded, "base64")); // checked as base64 above: nothing is skipped
  } catch {
    return "malformed";
  }
  const colon = text.indexOf(":");
  // Control characters have no place in a name or password (RFC 7617 §2).
  if (colon <= 0 || /[\u0000-\u001f\u007f]/.test(text)) return "malformed";
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
