// `browser` matching: a device class and a browser family from the User-Agent (parsed by bowser) and the
// Sec-CH-UA-Mobile client hint.
//
// Both are packed into one small integer of bits, so a compiled matcher is a single `&` against a mask and
// the per-UA result can be cached as a number. Parsing is lazy (RequestView.browser()) and cached in an LRU
// keyed by the User-Agent string, so a repeat UA costs one map lookup and a UA is never parsed at all unless
// a route with a `browser` field is actually tried.
//
// Decisions, each covered by tests:
// - Classes come from bowser's platform type. A UA bowser finds no device in, but whose OS is a desktop OS
//   (Windows, macOS, Linux, Chrome OS), is `desktop`. Anything else — curl, wget, python-requests, an empty UA,
//   gibberish, a smart TV — is in no class: `desktop` means "a desktop browser", not "everything else".
// - `bot` is bowser's bot list, plus UAs that name themselves crawlers the usual way (`SomethingBot/1.0`,
//   `crawler`, `spider`, a `+http://…` contact URL) and HeadlessChrome, none of which a person browses with.
//   A bot has no family: Googlebot's UA says "Chrome", but a `chrome` route should not catch it.
// - Client hint, from Chromium browsers only: `?1` means mobile; `?0` means not mobile, so desktop unless the
//   UA says tablet (Android tablets send `?0`). Neither changes a bot: a hint cannot make a crawler a person.
// - iPadOS 13+ sends a macOS UA by default and is indistinguishable on the server: it is desktop + safari.
// - Families: Edge (Chromium and legacy, all platforms) is `edge`, not `chrome`; Opera (incl. Mini, GX, Coast)
//   is `opera`; Samsung Internet is `samsung`; Chrome on iOS (CriOS) and Chromium are `chrome`; Firefox on iOS
//   is `firefox`; other browsers (Vivaldi, Yandex, UC, Silk…) have no family.
import Bowser from "bowser";
import { LRUCache } from "lru-cache";
import { BROWSER_CLASSES, BROWSER_FAMILIES } from "../config/schema.ts";
import type { Matcher } from "./matcher.ts";
import { compileEach } from "./matcher.ts";
import type { RequestView } from "./view.ts";

export type BrowserClass = (typeof BROWSER_CLASSES)[number];
export type BrowserFamily = (typeof BROWSER_FAMILIES)[number];
export type BrowserName = BrowserClass | BrowserFamily;

// One bit per name, in schema order: classes first, then families.
const BIT: Record<BrowserName, number> = Object.fromEntries([...BROWSER_CLASSES, ...BROWSER_FAMILIES].map((name, i) => [name, 1 << i])) as Record<
  BrowserName,
  number
>;
const CLASS_MASK = BROWSER_CLASSES.reduce((mask, name) => mask | BIT[name], 0);

const FAMILY_OF_BROWSER: Record<string, BrowserFamily> = {
  Chrome: "chrome",
  Chromium: "chrome",
  Firefox: "firefox",
  Safari: "safari",
  "Microsoft Edge": "edge",
  Opera: "opera",
  "Opera Coast": "opera",
  "Samsung Internet for Android": "samsung",
  "Internet Explorer": "ie",
};

const CLASS_OF_PLATFORM: Record<string, BrowserClass> = { mobile: "mobile", tablet: "tablet", desktop: "desktop", bot: "bot" };
const DESKTOP_OS = new Set(["Windows", "macOS", "Linux", "Chrome OS"]);

// Crawlers bowser does not list by name (AhrefsBot/7.0, Applebot/0.1, Baiduspider, "+http://…" contact URLs).
// "bot/" rather than "bot" so a phone brand such as CUBOT is not taken for one.
const GENERIC_BOT = /bot\/|crawler|spider|\+https?:\/\/|headlesschrome/i;

// ~10k distinct UAs covers real traffic; maxSize bounds memory when clients send huge or random UAs.
const cache = new LRUCache<string, number>({
  max: 10_000,
  maxSize: 4 * 1024 * 1024,
  sizeCalculation: (_bits, ua) => ua.length + 32,
});

/** Class and family bits of a User-Agent alone (no client hint). Cached; an empty UA is in nothing. */
export function userAgentBits(ua: string): number {
  if (ua === "") return 0;
  let bits = cache.get(ua);
  if (bits === undefined) {
    bits = parseUserAgent(ua);
    cache.set(ua, bits);
  }
  return bits;
}

function parseUserAgent(ua: string): number {
  // skipParsing: only the three facets we read get parsed, lazily, by the getters below.
  const parser = Bowser.getParser(ua, true);
  const platform = parser.getPlatformType();
  let cls = CLASS_OF_PLATFORM[platform];
  if (cls === undefined && platform === "" && DESKTOP_OS.has(parser.getOSName())) cls = "desktop";
  if (GENERIC_BOT.test(ua)) cls = "bot";
  if (cls === "bot") return BIT.bot;
  const family = FAMILY_OF_BROWSER[parser.getBrowserName()];
  return (cls ? BIT[cls] : 0) | (family ? BIT[family] : 0);
}

/** Class and family bits of a request: its User-Agent, adjusted by the Sec-CH-UA-Mobile hint. */
export function browserBits(ua: string | null, mobileHint: string | null): number {
  const bits = ua ? userAgentBits(ua) : 0;
  if (mobileHint === null || (bits & BIT.bot) !== 0) return bits;
  const hint = mobileHint.trim();
  if (hint === "?1") return (bits & ~CLASS_MASK) | BIT.mobile;
  if (hint === "?0" && (bits & BIT.tablet) === 0) return (bits & ~CLASS_MASK) | BIT.desktop;
  return bits;
}

/** The readable form of a request's bits, for logs, the admin API and tests. */
export function describeBrowser(ua: string | null, mobileHint: string | null = null): { class: BrowserClass | null; family: BrowserFamily | null } {
  const bits = browserBits(ua, mobileHint);
  return {
    class: BROWSER_CLASSES.find((name) => (bits & BIT[name]) !== 0) ?? null,
    family: BROWSER_FAMILIES.find((name) => (bits & BIT[name]) !== 0) ?? null,
  };
}

/**
 * `browser: "mobile"` or `["mobile", "chrome"]`: any of the names holds (a mobile device OR a Chrome browser —
 * like every other field, an array means "any of").
 */
export function compileBrowserMatcher(spec: string | readonly string[]): Matcher {
  let mask = 0;
  compileEach(spec, (name) => {
    // The schema already restricts names; this guards direct callers.
    const bit = BIT[name as BrowserName];
    if (bit === undefined) throw new Error(`not a browser class or family: ${name}`);
    mask |= bit;
  });
  return (view: RequestView) => (view.browser() & mask) !== 0;
}
