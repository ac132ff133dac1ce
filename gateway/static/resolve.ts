// Safe mapping of a request path onto a file under a static root.
//
// The path arrives as received (percent-encoded, and on Deno not even dot-normalised), so it is decoded here
// segment by segment: an escape that decodes to "/" or "\" cannot smuggle a separator in, a NUL or a
// malformed escape is refused, "." and ".." are resolved against the segments already seen (never above the
// root), and the result is checked once more on disk with realpath so that a symlink pointing out of the
// root is refused too. Dotfiles (".env", ".git/…") are hidden, except the ".well-known" directory.
import { realpath, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join, resolve, sep } from "node:path";

export type DecodedPath = { ok: true; segments: string[]; trailingSlash: boolean } | { ok: false; status: 400 | 404; error: string };

const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/** Decodes and normalises a raw URL path into file-name segments, or says why it cannot name a file. */
export function decodeRequestPath(rawPath: string): DecodedPath {
  if (rawPath.charCodeAt(0) !== 47 /* / */) return { ok: false, status: 400, error: "malformed path" };
  const raw = rawPath.split("/");
  const segments: string[] = [];
  let trailingSlash = false; // the last segment names a directory: "/dir/", "/dir/.", "/dir/sub/.."
  for (let i = 1; i < raw.length; i++) {
    const part = raw[i]!;
    let name = part;
    if (part.includes("%")) {
      if (BAD_ESCAPE.test(part)) return { ok: false, status: 400, error: "malformed percent-escape in path" };
      try {
        name = decodeURIComponent(part);
      } catch {
        return { ok: false, status: 400, error: "malformed percent-escape in path" };
      }
    }
    if (name.includes("\0")) return { ok: false, status: 400, error: "NUL in path" };
    // A separator that was escaped (%2F, %5C) or a raw backslash would let one segment name another directory.
    if (name.includes("/") || name.includes("\\")) return { ok: false, status: 404, error: "not found" };
    trailingSlash = name === "" || name === "." || name === "..";
    if (name === "" || name === ".") continue;
    if (name === "..") {
      if (segments.length === 0) return { ok: false, status: 404, error: "not found" };
      segments.pop();
      continue;
    }
    if (name.charCodeAt(0) === 46 /* . */ && name !== ".well-known") return { ok: false, status: 404, error: "not found" };
    segments.push(name);
  }
  return { ok: true, segments, trailingSlash };
}

/** A file or directory found under the root: the path as named (for siblings), its real path and its stats. */
export interface Found {
  /** The path as the request named it, under the configured root (symlinks not followed). */
  logical: string;
  /** The path with every symlink resolved: checked to be under the real root, and the one that is opened. */
  real: string;
  stats: Stats;
}

/** The root of a static route, resolved once; its real path is looked up on first use and kept once found. */
export class StaticRoot {
  /** The configured root made absolute against the config directory. */
  readonly path: string;
  private realRoot: string | undefined;

  constructor(root: string, configDir: string) {
    this.path = resolve(configDir, root);
  }

  /**
   * The root's real path, or undefined while it does not exist (it may be created later). Kept once found;
   * `refresh` looks it up again (the root may be a symlink that a deploy switches to a new release).
   */
  async real(refresh = false): Promise<string | undefined> {
    if (this.realRoot !== undefined && !refresh) return this.realRoot;
    try {
      const real = await realpath(this.path);
      if (!(await stat(real)).isDirectory()) return undefined;
      this.realRoot = real;
      return real;
    } catch {
      this.realRoot = undefined;
      return undefined;
    }
  }

  /** The logical path of some segments under the root. */
  join(segments: readonly string[]): string {
    return segments.length === 0 ? this.path : join(this.path, ...segments);
  }

  /**
   * Looks a logical path up on disk: undefined when it does not exist, cannot be read, is neither a regular
   * file nor a directory, or resolves (through symlinks) to somewhere outside the root. Never throws.
   */
  async lookup(logical: string): Promise<Found | undefined> {
    const root = await this.real();
    if (root === undefined) return undefined;
    try {
      const real = await realpath(logical);
      if (!isWithin(real, root)) {
        // Outside the root as last resolved: either a symlink out (refused) or the root itself now points
        // elsewhere (a switched "current" symlink), which one fresh look at the root tells apart.
        const fresh = await this.real(true);
        if (fresh === undefined || fresh === root || !isWithin(real, fresh)) return undefined;
      }
      const stats = await stat(real);
      if (!stats.isFile() && !stats.isDirectory()) return undefined;
      return { logical, real, stats };
    } catch {
      return undefined;
    }
  }
}

/** Whether a real path is the root itself or lies under it. */
export function isWithin(real: string, root: string): boolean {
  if (real === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return real.startsWith(prefix);
}

/**
 * Splits a configured index file name ("index.html", or a relative path such as "pages/index.html") into
 * segments; throws when it could name something outside the directory it is looked up in.
 */
export function indexSegments(index: string): string[] {
  const segments = index.split(/[\\/]/).filter((s) => s !== "" && s !== ".");
  if (segments.length === 0 || segments.some((s) => s === ".." || s.includes("\0"))) {
    throw new Error(`static index must be a file name under the directory (got ${JSON.stringify(index)})`);
  }
  return segments;
}
