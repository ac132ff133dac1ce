// One reading of every request path (gateway/http/path-normalization.ts):
// 1. a table of inputs at and over each rule, with the normalised target or the refusal each earns;
// 2. properties (fast-check): normalising twice is normalising once; what comes out holds no `//` (merging), no dot
//    segment, no encoded slash (unless kept), no escape of an unreserved character and no byte a refusal
//    forbids, keeps the query as it came, and is left as it is by a URL parser; a `/private/*` route is never
//    bypassed by re-spellings of `/private/x`;
// 3. end to end through real gateways with raw sockets, on the engine and through hono (a route with middleware,
//    and global middleware): the re-spellings reach the private route, refusals are 400 and reach no upstream,
//    `encodedSlashes: "keep"` and `forward: "original"` do what they say, static files still refuse a way out.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { normalizeTarget, type PathRefusal, type PathRules } from "../gateway/http/path-normalization.ts";
import { compileRouteTable } from "../gateway/routing/table.ts";
import { RequestView } from "../gateway/routing/view.ts";
import { configSchema, type ConfigInput, type RouteConfig } from "../gateway/config/schema.ts";
import { parseWithProblems } from "../gateway/config/errors.ts";
import { gateway, portOf, type Gateway } from "./helpers/upstream.ts";
import { startEngineGateway, type EngineGateway } from "./helpers/engine-gateway.ts";
import { answerWith, openWire, wireUpstream, type WireResponse, type WireUpstream } from "./helpers/wire.ts";

const DEFAULT: PathRules = { mergeSlashes: true, encodedSlashes: "refuse" };
const KEEP: PathRules = { mergeSlashes: true, encodedSlashes: "keep" };
const NO_MERGE: PathRules = { mergeSlashes: false, encodedSlashes: "refuse" };
const ALL_RULES = [DEFAULT, KEEP, NO_MERGE, { mergeSlashes: false, encodedSlashes: "keep" }] as const satisfies readonly PathRules[];

const refused = (value: string | PathRefusal): value is PathRefusal => typeof value !== "string";

// ── 1. the table ───────────────────────────────────────────────────────────────────────────────────

/** A refusal, by the start of its message. */
const NUL = { refused: "NUL" };
const MALFORMED = { refused: "malformed percent-escape" };
const BACKSLASH = { refused: "backslash" };
const ENCODED_SLASH = { refused: "encoded slash (" };
const CLIMBS = { refused: "path climbs above the root" };
const DOT_PARAMETER = { refused: "dot segment with a ;parameter" };
const BESIDE_DOTS = { refused: "encoded slash beside a .." };
const INVALID = { refused: "invalid character" };

type Want = string | { refused: string };

const CASES: Array<[string, Want, PathRules?]> = [
  // Already normal: the same string back.
  ["/", "/"],
  ["/a", "/a"],
  ["/a/b/c", "/a/b/c"],
  ["/a/", "/a/"],
  ["/.well-known/acme-challenge/x", "/.well-known/acme-challenge/x"],
  ["/a/.hidden", "/a/.hidden"],
  ["/a/..b", "/a/..b"],
  ["/a/b..", "/a/b.."],
  ["/a/...", "/a/..."],
  ["/a-b_c~d.e", "/a-b_c~d.e"],
  ["/a;b=c/d", "/a;b=c/d"],
  ["/a/x;../b", "/a/x;../b"],
  ["/!$&'()*+,;=:@", "/!$&'()*+,;=:@"],
  ["/api?x=1", "/api?x=1"],
  ["/a?b/../c//d%2F%00\\%zz", "/a?b/../c//d%2F%00\\%zz"], // the query is never touched
  ["*", "*"], // OPTIONS *
  // Escapes: unreserved ones decoded, the others kept with upper-case hex, decoded once only.
  ["/%70rivate/x", "/private/x"],
  ["/%41%5a%61%7A", "/AZaz"],
  ["/%30%39", "/09"],
  ["/%2d%5f%7e%2E", "/-_~."],
  ["/caf%c3%a9", "/caf%C3%A9"],
  ["/%20x", "/%20x"],
  ["/a%3fb", "/a%3Fb"],
  ["/a%23b", "/a%23b"],
  ["/%25", "/%25"],
  ["/%252e%252e/", "/%252e%252e/"],
  ["/%25%32%65", "/%252e"],
  ["/a%0d%0aSet-Cookie:x", "/a%0D%0ASet-Cookie:x"],
  ["/%ff%7f", "/%FF%7F"],
  // Dot segments (RFC 3986 §5.2.4), in any spelling.
  ["/a/./b", "/a/b"],
  ["/a/../b", "/b"],
  ["/a/b/../../c", "/c"],
  ["/a/b/..", "/a/"],
  ["/a/b/.", "/a/b/"],
  ["/.", "/"],
  ["/a/..", "/"],
  ["/public/../private/x", "/private/x"],
  ["/./private/x", "/private/x"],
  ["/%2e/private", "/private"],
  ["/a/%2e%2e/b", "/b"],
  ["/a/.%2e/b", "/b"],
  ["/a/%2E./b", "/b"],
  ["/a/./../b", "/b"],
  ["/a/./?x=/../", "/a/?x=/../"],
  // Climbing above the root.
  ["/..", CLIMBS],
  ["/%2e%2e/etc", CLIMBS],
  ["/a/../../etc", CLIMBS],
  ["/a/%2e%2e/%2E%2E/x", CLIMBS],
  ["/../a?x", CLIMBS],
  // Slashes.
  ["//private/x", "/private/x"],
  ["/a//b///c", "/a/b/c"],
  ["//", "/"],
  ["/a//", "/a/"],
  ["/a//../b", "/b"],
  ["//private/x", "//private/x", NO_MERGE],
  ["/a//b", "/a//b", NO_MERGE],
  ["/a//../b", "/a/b", NO_MERGE],
  ["//..", "/", NO_MERGE],
  // Encoded slashes and backslashes.
  ["/a%2Fb", ENCODED_SLASH],
  ["/a%2fb", ENCODED_SLASH],
  ["/a%5Cb", ENCODED_SLASH],
  ["/%5c", ENCODED_SLASH],
  ["/a%2fb", "/a%2Fb", KEEP],
  ["/a%5cb", "/a%5Cb", KEEP],
  ["/a%2F.b", "/a%2F.b", KEEP],
  ["/a%2F..%2Fb", BESIDE_DOTS, KEEP],
  ["/..%2Fetc", BESIDE_DOTS, KEEP],
  ["/a%2F%2e%2e", BESIDE_DOTS, KEEP],
  ["/a%5C..", BESIDE_DOTS, KEEP],
  ["/a\\b", BACKSLASH],
  ["/a\\..\\b", BACKSLASH, KEEP],
  // NUL and malformed escapes.
  ["/a%00", NUL],
  ["/a%00b", NUL, KEEP],
  ["/a%G1", MALFORMED],
  ["/a%4", MALFORMED],
  ["/a%", MALFORMED],
  ["/a%%41", MALFORMED],
  ["/a%4?x", MALFORMED],
  // A dot segment with a ;parameter (what Tomcat and Jetty read as a dot segment).
  ["/..;/private", DOT_PARAMETER],
  ["/a/.;x/b", DOT_PARAMETER],
  ["/a/%2e%2e;x/b", DOT_PARAMETER],
  ["/a/..;", DOT_PARAMETER],
  // Bytes a URI may not hold raw are escaped; bytes no request line may hold are refused.
  ["/{a}", "/%7Ba%7D"],
  ['/"<>`', "/%22%3C%3E%60"],
  ["/a|b^c[d]", "/a%7Cb%5Ec%5Bd%5D"],
  ["/a b", INVALID],
  ["/a\u00e9", INVALID],
  ["/a#b", INVALID],
  ["/a\u0000b", INVALID],
];

describe("the table of cases", () => {
  test("has at least 60 of them", () => expect(CASES.length).toBeGreaterThanOrEqual(60));

  const named = (rules: PathRules) => (rules === DEFAULT ? "" : ` (${rules === KEEP ? "encodedSlashes: keep" : "mergeSlashes: false"})`);
  test.each(
    CASES.map(([input, want, rules = DEFAULT]) => [input, typeof want === "string" ? want : `refused: ${want.refused}…`, named(rules), want, rules] as const),
  )("%p → %s%s", (input, _title, _rules, want, rules) => {
    const got = normalizeTarget(input, rules);
    if (typeof want === "string") expect(got).toBe(want);
    else {
      expect(refused(got)).toBe(true);
      expect((got as PathRefusal).message.startsWith(want.refused)).toBe(true);
    }
  });

  test("an already normal target comes back as the same string, and a refusal allocates nothing", () => {
    const target = "/api/v1/items/42?page=2";
    expect(Object.is(normalizeTarget(target, DEFAULT), target)).toBe(true);
    expect(normalizeTarget("/a%00", DEFAULT)).toBe(normalizeTarget("/b%00", KEEP));
  });
});

// ── 2. properties ──────────────────────────────────────────────────────────────────────────────────

/** Pieces a hostile or sloppy path is made of. */
const PIECE = fc.constantFrom(
  "a",
  "B",
  "private",
  "x",
  "",
  ".",
  "..",
  "%2e",
  "%2E",
  "%2e%2e",
  ".%2E",
  "%2f",
  "%2F",
  "%5c",
  "%5C",
  "%00",
  "%70",
  "%7e",
  "%7E",
  "%41",
  "%c3%a9",
  "%25",
  "%252e",
  "%G1",
  "%4",
  "\\",
  "{",
  "|",
  "~",
  ";",
  "..;",
  ".;x",
  "a;b",
  ".well-known",
  "%20",
  "%3F",
  "-",
  "_",
  "%2d",
);
const QUERY = fc.constantFrom("", "?", "?a=1", "?x=/../%2F%00//", "?%zz");
const TARGET = fc
  .tuple(fc.array(PIECE, { minLength: 0, maxLength: 8 }), fc.array(fc.constantFrom("/", "//", "/./"), { minLength: 8, maxLength: 8 }), QUERY)
  .map(([pieces, slashes, query]) => "/" + pieces.map((p, i) => (i === 0 ? p : slashes[i]! + p)).join("") + query);
const RULES = fc.constantFrom(...ALL_RULES);
const RUNS = { numRuns: 1000 };

const pathOf = (target: string) => (target.includes("?") ? target.slice(0, target.indexOf("?")) : target);
const queryOf = (target: string) => (target.includes("?") ? target.slice(target.indexOf("?")) : "");

/** A segment with every escape decoded, byte by byte (latin1), to see what an upstream that decodes would read. */
function decodeAll(segment: string): string {
  return segment.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

describe("properties", () => {
  test("normalising twice is normalising once", () => {
    fc.assert(
      fc.property(TARGET, RULES, (target, rules) => {
        const once = normalizeTarget(target, rules);
        if (refused(once)) return;
        expect(normalizeTarget(once, rules)).toBe(once);
      }),
      RUNS,
    );
  });

  test("the result holds no //, dot segment, unreserved escape, lower-case hex, or forbidden byte; its query is the input's", () => {
    fc.assert(
      fc.property(TARGET, RULES, (target, rules) => {
        const out = normalizeTarget(target, rules);
        if (refused(out)) return;
        const path = pathOf(out);
        expect(queryOf(out)).toBe(queryOf(target));
        if (rules.mergeSlashes) expect(path).not.toContain("//");
        expect(path.startsWith("/")).toBe(true);
        expect(`${path}/`).not.toMatch(/\/\.\.?\//);
        expect(path).not.toContain("\\");
        expect(path).not.toMatch(/%(?![0-9A-F]{2})/); // every % starts an escape, in upper case
        expect(path).not.toMatch(/%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2D|2E|5F|7E)/); // no unreserved escaped
        if (rules.encodedSlashes === "refuse") expect(path).not.toMatch(/%2F|%5C/);
        for (const segment of path.split("/")) {
          // What an upstream that decodes everything reads of a segment: no NUL, never a dot segment, and a
          // separator only from an encoded slash that was configured to be kept.
          const decoded = decodeAll(segment);
          expect(decoded).not.toContain("\0");
          expect(decoded.split(/[/\\]/)).not.toContain("..");
          expect(segment === "." || segment === "..").toBe(false);
        }
      }),
      RUNS,
    );
  });

  test("what the normaliser accepts, a URL parser leaves as it is (hono's Request sees the path routing saw)", () => {
    fc.assert(
      fc.property(TARGET, RULES, (target, rules) => {
        const out = normalizeTarget(target, rules);
        if (refused(out)) return;
        expect(new URL(`http://gw.test${pathOf(out)}`).pathname).toBe(pathOf(out));
      }),
      RUNS,
    );
  });

  test("a refusal is always for a reason the input shows", () => {
    fc.assert(
      fc.property(TARGET, RULES, (target, rules) => {
        const out = normalizeTarget(target, rules);
        if (!refused(out)) return;
        const path = pathOf(target);
        const reasons: Record<string, boolean> = {
          "NUL (%00) in path": /%00/.test(path),
          "malformed percent-escape in path": /%(?![0-9A-Fa-f]{2})/.test(path),
          "backslash in path": path.includes("\\"),
          "encoded slash (%2F or %5C) in path": /%(2f|5c)/i.test(path),
          "path climbs above the root": /(^|\/)(\.|%2e){2}(\/|$)/i.test(path),
          "dot segment with a ;parameter in path": /(^|\/)(\.|%2e){1,2};/i.test(path),
          "encoded slash beside a .. in path": /%(2f|5c)/i.test(path) && /\.|%2e/i.test(path),
          "invalid character in path": /[^\x21-\x7e]|#/.test(path),
        };
        expect(reasons[out.message]).toBe(true);
      }),
      RUNS,
    );
  });

  /** `/private/x` spelled another way: escapes of its letters (either hex case), extra slashes, `./`, `junk/../`. */
  const RESPELLED = fc
    .tuple(
      fc.constantFrom("private", "admin", "internal-api", "v1.2_~"),
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 12, maxLength: 12 }),
      fc.array(fc.constantFrom("/", "//", "/./", "/%2e/", "/junk/../", "/j/%2e%2e/", "/.%2E/x/"), { minLength: 2, maxLength: 2 }),
    )
    .map(([name, choices, [first, second]]) => {
      const spell = (text: string, offset: number) =>
        [...text]
          .map((ch, i) => {
            const hex = ch.charCodeAt(0).toString(16);
            const choice = choices[(i + offset) % choices.length]!;
            return choice === 0 ? `%${hex}` : choice === 1 ? `%${hex.toUpperCase()}` : ch;
          })
          .join("");
      // "/.%2E/x/" climbs back to where it started: prefix it with a segment so it never climbs above "/".
      const lead = first === "/.%2E/x/" ? "/x/.%2E/" : first;
      return { name, target: `${lead}${spell(name, 0)}${second === "/.%2E/x/" ? "/x/../" : second}${spell("x", 3)}` };
    });

  test("a /NAME/* route is never bypassed by a re-spelling of /NAME/x", () => {
    fc.assert(
      fc.property(RESPELLED, RULES, ({ name, target }, rules) => {
        const table = compileRouteTable([
          { route: { name: "private", match: { path: `/${name}/*` }, pool: "p", plugins: [] } as RouteConfig, value: "private" },
          { route: { name: "public", pool: "p", plugins: [] } as RouteConfig, value: "public" },
        ]);
        // Without merging, "//" is a segment of its own by configuration: the re-spellings here all merge.
        const out = normalizeTarget(target, { ...rules, mergeSlashes: true });
        if (refused(out)) return; // refused is safe too
        expect(out).toBe(`/${name}/x`);
        expect(table.match(RequestView.fromUrl("GET", `http://gw.test${out}`, new Headers()))!.value).toBe("private");
      }),
      RUNS,
    );
  });
});

// ── config ─────────────────────────────────────────────────────────────────────────────────────────

describe("config", () => {
  test("pathNormalization is checked like the rest of the config, one line per problem", () => {
    const bad = parseWithProblems(configSchema, { pathNormalization: { mergeSlashes: "yes", encodedSlashes: "decode", forward: "raw", merge: true } });
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.problems).toEqual([
      'pathNormalization.mergeSlashes: expected true or false (got "yes")',
      'pathNormalization.encodedSlashes: expected one of: refuse, keep (got "decode")',
      'pathNormalization.forward: expected one of: normalized, original (got "raw")',
      "pathNormalization.merge: unknown key (got true)",
    ]);
    const good = parseWithProblems(configSchema, { pathNormalization: { encodedSlashes: "keep" } });
    expect(good.ok && good.value.pathNormalization).toEqual({ mergeSlashes: true, encodedSlashes: "keep", forward: "normalized" });
  });
});

// ── 3. end to end ──────────────────────────────────────────────────────────────────────────────────

const TAGGER = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");
const WITNESS = resolve(import.meta.dir, "fixtures/plugins/path-witness.ts");
const APP_JS = "console.log('a static file');\n";

let privateUp: WireUpstream;
let publicUp: WireUpstream;
let staticRoot: string;

beforeAll(async () => {
  privateUp = await wireUpstream((_request, socket) => void socket.write(answerWith(200, "private")));
  publicUp = await wireUpstream((_request, socket) => void socket.write(answerWith(200, "public")));
  staticRoot = await mkdtemp(join(tmpdir(), "sluice-paths-static-"));
  await mkdir(join(staticRoot, "assets/sub"), { recursive: true });
  await writeFile(join(staticRoot, "assets/app.js"), APP_JS);
  await writeFile(join(staticRoot, "assets/sub/app.js"), APP_JS);
});

afterAll(async () => {
  await privateUp.close();
  await publicUp.close();
  await rm(staticRoot, { recursive: true, force: true });
});

interface Way {
  readonly name: string;
  /** Global plugins: every request goes through hono. */
  readonly global: boolean;
  /** The proxy routes carry a middleware plugin: their requests go through hono. */
  readonly routeMiddleware: boolean;
}

const WAYS: Way[] = [
  { name: "on the engine", global: false, routeMiddleware: false },
  { name: "through a route's hono middleware", global: false, routeMiddleware: true },
  { name: "through global hono middleware", global: true, routeMiddleware: false },
];

function configFor(way: Way, pathNormalization: ConfigInput["pathNormalization"]): ConfigInput {
  const plugins = way.routeMiddleware ? [{ use: TAGGER, options: { tag: "route" } }] : [];
  return {
    pathNormalization,
    plugins: way.global ? [{ use: WITNESS }] : [],
    pools: { private: { servers: [{ url: privateUp.url }] }, public: { servers: [{ url: publicUp.url }] } },
    routes: [
      { name: "private", match: { path: "/private/*" }, pool: "private", plugins },
      { name: "api", match: { path: "/api/*" }, pool: "public", stripPrefix: "/api", plugins },
      { name: "assets", match: { path: "/assets/*" }, static: { root: staticRoot } },
      { name: "public", pool: "public", plugins },
    ],
  };
}

interface Answer {
  response: WireResponse;
  /** The requests each upstream read because of this one. */
  reached: { private: string[]; public: string[] };
  /** The gateway closed the connection after answering (the request did not ask it to). */
  closed: boolean;
}

/** One request (or raw bytes) on a new connection; what came back, what the upstreams read, and whether it closed. */
async function send(gw: Gateway | EngineGateway, targetOrBytes: string): Promise<Answer> {
  const before = { private: privateUp.requests.length, public: publicUp.requests.length };
  const client = await openWire("port" in gw ? gw.port : portOf(gw));
  try {
    client.write(targetOrBytes.startsWith("GET ") ? targetOrBytes : `GET ${targetOrBytes} HTTP/1.1\r\nHost: gw.test\r\n\r\n`);
    const response = await client.read();
    let closed = client.ended;
    if (response.status === 400) closed = (await client.closed(5_000)) >= 0;
    return {
      response,
      reached: {
        private: privateUp.requests.slice(before.private).map((r) => r.target),
        public: publicUp.requests.slice(before.public).map((r) => r.target),
      },
      closed,
    };
  } finally {
    client.close();
  }
}

/** The answer came from the private upstream, which read exactly `target`; hono's middleware saw `honoPath`. */
function expectPrivate(answer: Answer, way: Way, target: string, honoPath = target.split("?")[0]) {
  expect(answer.response.status).toBe(200);
  expect(answer.response.body.toString()).toBe("private");
  expect(answer.reached).toEqual({ private: [target], public: [] });
  if (way.routeMiddleware) expect(answer.response.headers.get("x-tagged-by")).toBe("route");
  if (way.global) expect(answer.response.headers.get("x-witness-path")).toBe(honoPath);
}

async function expectRefused(gw: Gateway | EngineGateway, target: string, message: string) {
  const answer = await send(gw, target);
  expect(answer.response.status).toBe(400);
  const body = JSON.parse(answer.response.body.toString()) as { error: string; requestId: string };
  expect(body.error).toBe(message);
  expect(body.requestId).toBeTruthy();
  expect(answer.response.headers.get("connection")).toBe("close");
  expect(answer.closed).toBe(true);
  expect(answer.reached).toEqual({ private: [], public: [] });
}

describe.each(WAYS)("$name", (way) => {
  describe("with the defaults", () => {
    let gw: Gateway;
    beforeAll(async () => {
      gw = await gateway(configFor(way, undefined));
    });
    afterAll(() => gw.stop(0));

    test.each(["/private/x", "//private/x", "/%70rivate/x", "/public/../private/x", "/./private/x", "/%2e/pr%69vate//%78", "/private/y/%2E%2E/x"])(
      "%s reaches the private route as /private/x",
      async (target) => expectPrivate(await send(gw, target), way, "/private/x"),
    );

    test("an absolute-form target is read the same way", async () => {
      expectPrivate(await send(gw, "GET http://gw.test//%70rivate/./x?q HTTP/1.1\r\nHost: gw.test\r\n\r\n"), way, "/private/x?q");
    });

    test("the query goes upstream as the client sent it", async () => {
      // Also the bytes a URL parser would escape: hono's Request has them escaped, the upstream does not.
      expectPrivate(await send(gw, "//%70rivate/x?a=%2f..//&b=%41&c='<\">"), way, "/private/x?a=%2f..//&b=%41&c='<\">");
    });

    test("stripPrefix applies to the normalised path", async () => {
      const answer = await send(gw, "//api/./v1/%69tems?q=1");
      expect(answer.response.body.toString()).toBe("public");
      expect(answer.reached).toEqual({ private: [], public: ["/v1/items?q=1"] });
    });

    test.each([
      ["/%2e%2e/etc", "path climbs above the root"],
      ["/private/../../x", "path climbs above the root"],
      ["/a%2Fb", "encoded slash (%2F or %5C) in path"],
      ["/private%2fx", "encoded slash (%2F or %5C) in path"],
      ["/a%00", "NUL (%00) in path"],
      ["/a\\b", "backslash in path"],
      ["/a%4", "malformed percent-escape in path"],
      ["/..;/private/x", "dot segment with a ;parameter in path"],
    ])("%s is refused with 400, closed, and reaches no upstream", (target, message) => expectRefused(gw, target, message));

    test("a request pipelined behind a refused one is never read", async () => {
      const answer = await send(gw, "GET /a%00 HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /private/x HTTP/1.1\r\nHost: gw.test\r\n\r\n");
      expect(answer.response.status).toBe(400);
      expect(answer.closed).toBe(true);
      expect(answer.reached).toEqual({ private: [], public: [] });
    });

    test("static files are served under their normalised path, and an encoded way out is refused", async () => {
      for (const target of ["/assets/%61pp.js", "//assets/./sub/../app.js", "/x/../assets/app.js"]) {
        const answer = await send(gw, target);
        expect([target, answer.response.status, answer.response.body.toString()]).toEqual([target, 200, APP_JS]);
      }
      await expectRefused(gw, "/assets/sub%2F..%2Fapp.js", "encoded slash (%2F or %5C) in path");
      await expectRefused(gw, "/assets/%2e%2e/%2e%2e/etc/passwd", "path climbs above the root");
    });

    if (way.global) {
      test("a plugin's own hono route is reached by re-spellings of its path", async () => {
        for (const target of ["//_witness/private", "/_witness/%70rivate", "/x/../_witness/./private"]) {
          const answer = await send(gw, target);
          expect([target, answer.response.body.toString()]).toEqual([target, "witness route /_witness/private"]);
          expect(answer.reached).toEqual({ private: [], public: [] });
        }
      });
    }
  });

  describe('with encodedSlashes: "keep"', () => {
    let gw: Gateway;
    beforeAll(async () => {
      gw = await gateway(configFor(way, { encodedSlashes: "keep" }));
    });
    afterAll(() => gw.stop(0));

    test("an encoded slash passes undecoded (hex in upper case), inside one segment", async () => {
      for (const [target, upstream] of [
        ["/a%2Fb", "/a%2Fb"],
        ["/a%2fb?c=%2f", "/a%2Fb?c=%2f"],
        ["/a%5cb", "/a%5Cb"],
      ] as const) {
        const answer = await send(gw, target);
        expect(answer.response.status).toBe(200);
        expect(answer.reached).toEqual({ private: [], public: [upstream] });
      }
      // Routing reads "private%2Fx" as one segment: not the private route (the README warns about this).
      expect((await send(gw, "/private%2Fx")).reached).toEqual({ private: [], public: ["/private%2Fx"] });
    });

    test("an encoded slash beside a .. is still refused, and static files still refuse encoded slashes", async () => {
      await expectRefused(gw, "/..%2Fetc/passwd", "encoded slash beside a .. in path");
      const answer = await send(gw, "/assets/sub%2Fapp.js");
      expect(answer.response.status).toBe(404);
      expect(answer.response.body.toString()).not.toContain(APP_JS);
      expect(answer.reached).toEqual({ private: [], public: [] });
    });
  });

  describe('with forward: "original"', () => {
    let gw: Gateway;
    beforeAll(async () => {
      gw = await gateway(configFor(way, { forward: "original" }));
    });
    afterAll(() => gw.stop(0));

    test("the upstream receives the client's own target; routing read the normalised one", async () => {
      expectPrivate(await send(gw, "//private/./x?q=%41"), way, "//private/./x?q=%41", "/private/x");
      expectPrivate(await send(gw, "/%70rivate/x"), way, "/%70rivate/x", "/private/x");
      expectPrivate(await send(gw, "/public/../private/x"), way, "/public/../private/x", "/private/x");
    });

    test("a route that changes the path sends the normalised path, changed", async () => {
      const answer = await send(gw, "//api/./v1/%69tems?q=1");
      expect(answer.reached).toEqual({ private: [], public: ["/v1/items?q=1"] });
    });

    test("refusals still apply", async () => {
      await expectRefused(gw, "/private/%2e%2e/%2e%2e/etc", "path climbs above the root");
      await expectRefused(gw, "/a%2Fb", "encoded slash (%2F or %5C) in path");
    });
  });
});

// Deno's URL parser escapes fewer bytes than Bun's (`^`): the normaliser escapes them itself, so both agree.
describe("on Deno, through a route's hono middleware", () => {
  const way = WAYS[1]!;
  let gw: EngineGateway;
  beforeAll(async () => {
    gw = await startEngineGateway("deno", configFor(way, undefined));
  });
  afterAll(() => gw.stop());

  test("re-spellings reach the private route, bytes a URI may not hold arrive escaped, refusals are 400", async () => {
    expectPrivate(await send(gw, "//private/./x"), way, "/private/x");
    expectPrivate(await send(gw, "/%70rivate/x^y"), way, "/private/x%5Ey");
    const other = await send(gw, "/a^b|c");
    expect(other.reached).toEqual({ private: [], public: ["/a%5Eb%7Cc"] });
    await expectRefused(gw, "/%2e%2e/etc", "path climbs above the root");
  });
});
