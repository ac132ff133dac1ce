// Header fields a listener adds to every answer it writes — Strict-Transport-Security on an HTTPS listener
// (RFC 6797 §7.1) — whoever made the answer: a relayed upstream head, a static file, a plugin, the gateway's
// own errors and refusals. One object per listener, shared by its connections; a reload changes its content.

export interface AnswerFields {
  /** Whole head lines, each ending in CRLF; "" while there are none. */
  lines: string;
  /** The lower-case name of the field the lines stand for: one of that name in a relayed answer is dropped (the listener's wins). */
  replaces: string;
}

/** The answer fields of an HTTPS listener with `hsts` (a Strict-Transport-Security value), or none (undefined). */
export function setHsts(fields: AnswerFields, hsts: string | undefined): void {
  fields.lines = hsts === undefined ? "" : `strict-transport-security: ${hsts}\r\n`;
  fields.replaces = hsts === undefined ? "" : "strict-transport-security";
}
