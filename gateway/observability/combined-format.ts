// The access log's `combined` format, as nginx and Apache write it:
//   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
// byte for byte as nginx's default escaping of variables leaves them, so that tools reading nginx logs (GoAccess,
// AWStats, fail2ban filters) read Sluice's.
import type { LogEntry } from "../plugin/types.ts";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** Nothing to escape: printable ASCII other than `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `"`, `\` and every byte outside printable ASCII as \xHH, as nginx escapes variables in a log line. */
export function escapeForLog(value: string): string {
  if (PLAIN.test(value)) return value;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x20 && code < 0x7f && code !== 0x22 && code !== 0x5c) out += value[i];
    else {
      // Header values hold bytes as latin1 characters; anything wider is written as its UTF-8 bytes.
      for (const byte of code < 0x100 ? [code] : new TextEncoder().encode(value[i])) out += `\\x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

/** nginx's $time_local: `10/Oct/2000:13:55:36 -0700`, in the process's time zone (TZ). */
export function timeLocal(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const abs = Math.abs(offset);
  return (
    `${two(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ` +
    `${offset < 0 ? "-" : "+"}${two(Math.floor(abs / 60))}${two(abs % 60)}`
  );
}

/** An absent header is "-", as nginx writes it; one sent empty stays empty (""). */
function field(value: string | undefined): string {
  return value === undefined ? "-" : escapeForLog(value);
}

/** One line in the combined format (without its newline). $remote_user is always "-": Sluice does not read it. */
export function combinedLine(entry: LogEntry): string {
  const target = entry.query !== undefined ? `${entry.path}?${entry.query}` : entry.path;
  const request = `${entry.method} ${target} ${entry.protocol}`;
  return `${entry.clientIp} - - [${timeLocal(new Date(entry.time))}] "${escapeForLog(request)}" ${entry.status} ${entry.bytesOut} "${field(entry.referer)}" "${field(entry.userAgent)}"`;
}
