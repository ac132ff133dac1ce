// basic-auth: requests need a user name and password (HTTP Basic, RFC 7617) checked against bcrypt hashes, as
// nginx's auth_basic, Traefik's basicAuth and Caddy's basic_auth do. Users come from `users` (name → hash) and/or
// an htpasswd-style `usersFile`; a request without valid credentials gets 401 with a Basic challenge.
//
// With `userHeader`, the upstream is told who the user is; a client-sent copy of that header never passes. With
// `removeHeader`, the credentials themselves stay at the gateway.
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import type { MiddlewareHandler } from "hono";
import { definePlugin, type GatewayEnv } from "../../gateway/mod.ts";
import { duration, identityHeaderName } from "../shared/option-types.ts";
import { HOW_TO_HASH, hashProblem } from "./bcrypt-hash.ts";
import { basicCredentials } from "./credentials.ts";
import { PasswordCheck } from "./password-check.ts";
import { parseUsersFile } from "./users-file.ts";

const hash = z.string().superRefine((value, ctx) => {
  const problem = hashProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: `${problem}: ${HOW_TO_HASH}` });
});
// RFC 7617: the user-id cannot hold a colon; no credentials hold control characters.
const USER_NAME = /^[^:\u0000-\u001f\u007f]+$/;

const options = z.strictObject({
  users: z.record(z.string(), hash).default({}),
  /** htpasswd-style file of name:bcrypt-hash lines, relative to the config file. */
  usersFile: z.string().min(1).optional(),
  realm: z.string().regex(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/, { message: "printable ASCII without quotes or backslashes" }).default("restricted"),
  /** How long a user/password pair that passed is remembered ("0s": check every request). */
  cacheTtl: duration.default(300_000),
  /** Header that tells the upstream the authenticated user's name. */
  userHeader: identityHeaderName.optional(),
  /** Do not pass the Authorization header on to the upstream. */
  removeHeader: z.boolean().default(false),
}).superRefine((o, ctx) => {
  for (const name of Object.keys(o.users)) {
    if (!USER_NAME.test(name)) ctx.addIssue({ code: "custom", path: ["users", name], message: "a user name may hold no colon or control character" });
  }
  if (o.usersFile === undefined && Object.keys(o.users).length === 0) {
    ctx.addIssue({ code: "custom", path: ["users"], message: "no users: give users (name → bcrypt hash) or usersFile" });
  }
});

type Options = z.output<typeof options>;

export default definePlugin({
  name: "basic-auth",
  options,
  async setup(o: Options, { configDir }) {
    const users = new Map(Object.entries(o.users));
    if (o.usersFile !== undefined) {
      for (const [name, value] of await readUsersFile(o.usersFile, configDir)) {
        if (users.has(name)) throw new Error(`options.usersFile: user ${name} is also in options.users`);
        users.set(name, value);
      }
    }
    if (users.size === 0) throw new Error(`options.usersFile: no users in ${o.usersFile}`);
    const passwords = await PasswordCheck.create(users, o.cacheTtl);
    const challenge = `Basic realm="${o.realm}", charset="UTF-8"`;
    const refuse = (requestId: string, error: string) =>
      new Response(JSON.stringify({ error, requestId }), {
        status: 401,
        headers: { "content-type": "application/json", "www-authenticate": challenge },
      });
    const tellsUpstream = o.userHeader !== undefined || o.removeHeader;
    // Who the middleware let through, for the beforeUpstream phase of the same request (keyed by its Request).
    const passed = new WeakMap<Request, string>();

    const middleware: MiddlewareHandler<GatewayEnv> = async (c, next) => {
      const credentials = basicCredentials(c.req.raw.headers.get("authorization"));
      if (credentials === undefined) {
        c.get("log").error = "basic-auth: no credentials";
        return refuse(c.get("requestId"), "authentication required");
      }
      if (credentials === "malformed" || !(await passwords.verify(credentials.user, credentials.password))) {
        c.get("log").error = credentials === "malformed" ? "basic-auth: malformed credentials" : "basic-auth: invalid credentials";
        return refuse(c.get("requestId"), "invalid credentials");
      }
      if (tellsUpstream) passed.set(c.req.raw, credentials.user);
      await next();
    };
    if (!tellsUpstream) return { middleware };
    return {
      middleware,
      beforeUpstream(ctx) {
        const headers = ctx.upstream.headers;
        if (o.userHeader !== undefined) headers.delete(o.userHeader);
        if (o.removeHeader) headers.delete("authorization");
        const user = passed.get(ctx.request);
        // Only a request the middleware passed goes on: no path around it reaches the upstream.
        if (user === undefined) return refuse(ctx.requestId, "authentication required");
        if (o.userHeader !== undefined) headers.set(o.userHeader, headerText(user));
      },
    };
  },
});

async function readUsersFile(path: string, configDir: string): Promise<Map<string, string>> {
  const full = isAbsolute(path) ? path : resolve(configDir, path);
  let text: string;
  try {
    text = await readFile(full, "utf8");
  } catch (error) {
    throw new Error(`options.usersFile: cannot read ${full} (${(error as { code?: string }).code ?? (error as Error).message})`);
  }
  try {
    return parseUsersFile(text);
  } catch (error) {
    throw new Error(`options.usersFile: ${path}: ${(error as Error).message}`);
  }
}

/** A user name as a header value: UTF-8 bytes, one per character (what the engine writes). */
function headerText(user: string): string {
  if (/^[\x20-\x7e]*$/.test(user)) return user;
  let bytes = "";
  for (const byte of new TextEncoder().encode(user)) bytes += String.fromCharCode(byte);
  return bytes;
}
