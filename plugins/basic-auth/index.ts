// basic-auth: requests need a user name and password (HTTP Basic, RFC 7617) checked against bcrypt hashes, as
// nginx's auth_basic, Traefik's basicAuth and Caddy's basic_auth do. Users come from `users` (name → hash) and/or
// an htpasswd-style `usersFile`; a request without valid credentials gets 401 with a Basic challenge.
//
// The plugin works in the onRequest phase, on the engine's byte path: it is the gate of its route, answering before
// a server is chosen. With `userHeader`, the upstream is told who the user is; a client-sent copy of that header
// never passes. With `removeHeader`, the credentials themselves stay at the gateway.
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { definePlugin, type GatewayAnswer, type GatewayRequest } from "../../gateway/mod.ts";
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

const options = z
  .strictObject({
    users: z.record(z.string(), hash).default({}),
    /** htpasswd-style file of name:bcrypt-hash lines, relative to the config file. */
    usersFile: z.string().min(1).optional(),
    realm: z
      .string()
      .regex(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/, { message: "printable ASCII without quotes or backslashes" })
      .default("restricted"),
    /** How long a user/password pair that passed is remembered ("0s": check every request). */
    cacheTtl: duration.default(300_000),
    /** Header that tells the upstream the authenticated user's name. */
    userHeader: identityHeaderName.optional(),
    /** Do not pass the Authorization header on to the upstream. */
    removeHeader: z.boolean().default(false),
  })
  .superRefine((o, ctx) => {
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
    const refuse = (req: GatewayRequest, error: string): GatewayAnswer => ({
      status: 401,
      headers: { "www-authenticate": challenge },
      json: { error, requestId: req.requestId },
      logError: `basic-auth: ${error}`,
    });
    /** The user passed: what the upstream is told. */
    const admit = (req: GatewayRequest, user: string): undefined => {
      if (o.removeHeader) req.removeHeader("authorization");
      if (o.userHeader !== undefined) req.setHeader(o.userHeader, headerText(user));
      return undefined;
    };

    return {
      onRequest(req) {
        const credentials = basicCredentials(req.header("authorization"));
        if (credentials === undefined) return refuse(req, "authentication required");
        if (credentials === "malformed") return refuse(req, "invalid credentials");
        const verdict = passwords.verify(credentials.user, credentials.password);
        // A pair remembered from an earlier pass is decided at once; only a bcrypt check suspends the request.
        if (typeof verdict === "boolean") return verdict ? admit(req, credentials.user) : refuse(req, "invalid credentials");
        return verdict.then((ok) => (ok ? admit(req, credentials.user) : refuse(req, "invalid credentials")));
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
