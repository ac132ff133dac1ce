// A header value a plugin sends as configured, checked once at load: a bad one is a config error with its path,
// never a failed request.
import { z } from "zod";

/** What a field value may not hold: control characters but HTAB (CR, LF, NUL…), DEL, and what no byte can carry. */
const NOT_IN_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * An HTTP field value (RFC 9110 §5.5): a CR or LF could end the field early and start another one (header
 * injection); a character above U+00FF has no byte to be written as.
 */
export const fieldValue = z.string().superRefine((value, ctx) => {
  const bad = NOT_IN_FIELD_VALUE.exec(value);
  if (!bad) return;
  const code = bad[0].codePointAt(0)!;
  ctx.addIssue({
    code: "custom",
    message:
      code > 0xff
        ? `${JSON.stringify(bad[0])} cannot be sent in a header (only characters up to U+00FF): percent-encode it`
        : `a control character (U+${code.toString(16).toUpperCase().padStart(4, "0")}) cannot be in a header value: CR, LF and NUL could end the field and start another`,
  });
});
