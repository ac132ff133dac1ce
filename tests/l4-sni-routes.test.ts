// The `sni` table of a `tcp` listener (compileSniRoutes in gateway/l4/sni.ts): exact names, `*.suffix`
// wildcards and the `*` default, with their precedence.
import { describe, expect, test } from "bun:test";
import { compileSniRoutes, validateSniKey } from "../gateway/l4/sni.ts";

describe("compileSniRoutes", () => {
  const route = compileSniRoutes({
    "db.example.com": "pg-tls",
    "*.example.com": "web-tls",
    "*.eu.example.com": "eu-tls",
    "eu.example.com": "eu-apex",
    "Admin.Example.COM": "admin",
    "trailing.example.org.": "trailing",
    "*": "default",
  });

  test("exact names, case-insensitive on both sides, trailing dots ignored", () => {
    expect(route("db.example.com")).toBe("pg-tls");
    expect(route("DB.Example.Com")).toBe("pg-tls");
    expect(route("db.example.com.")).toBe("pg-tls");
    expect(route("admin.example.com")).toBe("admin");
    expect(route("trailing.example.org")).toBe("trailing");
    expect(route("trailing.example.org.")).toBe("trailing");
  });

  test("*.example.com: any subdomain, one label or several, never the apex", () => {
    expect(route("www.example.com")).toBe("web-tls");
    expect(route("a.b.c.example.com")).toBe("web-tls");
    expect(route("WWW.EXAMPLE.COM")).toBe("web-tls");
    expect(route("example.com")).toBe("default");
    expect(route("badexample.com")).toBe("default"); // a suffix of the text, not of the labels
    expect(route("example.com.evil.net")).toBe("default");
  });

  test("exact beats wildcard; the longest wildcard suffix beats a shorter one", () => {
    expect(route("db.example.com")).toBe("pg-tls"); // also matched by *.example.com
    expect(route("eu.example.com")).toBe("eu-apex"); // exact, though *.example.com matches too
    expect(route("paris.eu.example.com")).toBe("eu-tls");
    expect(route("a.paris.eu.example.com")).toBe("eu-tls");
    expect(route("db.eu.example.com")).toBe("eu-tls"); // db.example.com is exact for itself only
  });

  test("`*` takes everything else, including clients without SNI", () => {
    expect(route("other.net")).toBe("default");
    expect(route("localhost")).toBe("default");
    expect(route(undefined)).toBe("default");
    expect(route("")).toBe("default");
  });

  test("without `*`, unmatched names and missing SNI find nothing", () => {
    const strict = compileSniRoutes({ "a.example": "a", "*.b.example": "b" });
    expect(strict("a.example")).toBe("a");
    expect(strict("x.b.example")).toBe("b");
    expect(strict("b.example")).toBeUndefined();
    expect(strict("c.example")).toBeUndefined();
    expect(strict(undefined)).toBeUndefined();
  });

  test("an empty table routes nothing; a table of only `*` routes everything", () => {
    expect(compileSniRoutes({})("a.example")).toBeUndefined();
    const all = compileSniRoutes({ "*": "only" });
    expect(all("a.example")).toBe("only");
    expect(all(undefined)).toBe("only");
  });

  test("top-level wildcards work like any other suffix", () => {
    const tld = compileSniRoutes({ "*.internal": "inside", "*.svc.internal": "svc" });
    expect(tld("db.internal")).toBe("inside");
    expect(tld("x.svc.internal")).toBe("svc");
    expect(tld("internal")).toBeUndefined();
  });

  test("a big table: every key still answers its own names", () => {
    const table: Record<string, string> = { "*": "fallback" };
    for (let i = 0; i < 5000; i++) {
      table[`host${i}.zone${i % 50}.example`] = `exact${i}`;
      if (i < 50) table[`*.zone${i}.example`] = `zone${i}`;
    }
    const big = compileSniRoutes(table);
    for (let i = 0; i < 5000; i += 7) {
      expect(big(`host${i}.zone${i % 50}.example`)).toBe(`exact${i}`);
      expect(big(`other${i}.zone${i % 50}.example`)).toBe(`zone${i % 50}`);
    }
    expect(big("zone1.example")).toBe("fallback");
  });

  test("keys that are not a name, `*.name` or `*` are refused when compiling", () => {
    for (const key of [
      "",
      "*.",
      "**.example.com",
      "a.*.example.com",
      "*example.com",
      "example.*",
      "a..b",
      ".a.b",
      "a b.example",
      "*.*.example.com",
      "é.example",
      `${"x".repeat(64)}.example`,
    ]) {
      expect(validateSniKey(key)).toBeString();
      expect(() => compileSniRoutes({ [key]: "x" })).toThrow(/sni key/);
    }
    for (const key of ["*", "*.example.com", "example.com", "Example.COM.", "under_score.example", "a"]) {
      expect(validateSniKey(key)).toBeUndefined();
    }
  });

  test("two keys that differ only in case or a trailing dot are refused (which one wins would be arbitrary)", () => {
    expect(() => compileSniRoutes({ "a.example": "one", "A.EXAMPLE": "two" })).toThrow(/repeats/);
    expect(() => compileSniRoutes({ "*.example": "one", "*.example.": "two" })).toThrow(/repeats/);
    // An exact name and a wildcard on the same suffix are different keys.
    expect(() => compileSniRoutes({ "example.com": "apex", "*.example.com": "subs" })).not.toThrow();
  });
});
