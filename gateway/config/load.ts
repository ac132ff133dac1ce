// Reading a config file (JSON or TypeScript/JavaScript) into a validated Config.
// Only node:fs and node:path are used, so this runs unchanged on Bun and Deno.
import { readFile, realpath } from "node:fs/promises";
import { statSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import type { Config } from "./schema.ts";
import { ConfigError } from "./errors.ts";
import type { CanonicalBalancer } from "./canonical.ts";
import { validateConfig } from "./validate.ts";

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file. */
  path: string;
  /** Absolute directory of the config file: relative paths in the config (static roots, plugins) resolve here. */
  dir: string;
}

const MODULE_EXTENSIONS = new Set([".ts", ".mts", ".js", ".mjs"]);

const READ_ERRORS: Record<string, string> = {
  ENOENT: "ENOENT: no such file",
  EACCES: "EACCES: permission denied",
  EPERM: "EPERM: permission denied",
  EISDIR: "EISDIR: it is a directory",
};

let generation = 0;

/** Read, validate and cross-check a config file. Throws ConfigError holding every problem found. */
export async function loadConfig(path: string, opts: { knownBalancers: string[]; canonicalBalancer?: CanonicalBalancer }): Promise<LoadedConfig> {
  const { input, path: abs, dir } = await readConfigInput(path);
  return { config: validateConfig(input, opts.knownBalancers, opts.canonicalBalancer), path: abs, dir };
}

/**
 * A config file as written, not yet validated: parsed JSON, or a module's default export. Throws a ConfigError
 * of one line when the file cannot be read or parsed.
 */
export async function readConfigInput(path: string): Promise<{ input: unknown; path: string; dir: string }> {
  const abs = resolve(path);
  const ext = extname(abs).toLowerCase();
  if (ext !== ".json" && !MODULE_EXTENSIONS.has(ext)) {
    throw new ConfigError([`${path}: unsupported config file type "${ext}": use .ts, .js, .mjs or .json`]);
  }

  // Read first even for modules: a missing file gets the same plain line either way.
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code ?? "";
    throw new ConfigError([`${path}: cannot read the config file (${READ_ERRORS[code] ?? (code || (e as Error).message)})`]);
  }

  let input: unknown;
  if (ext === ".json") {
    try {
      input = JSON.parse(text.replace(/^\uFEFF/, "")); // editors on Windows like to add a BOM
    } catch (e) {
      throw new ConfigError([`${path}: not valid JSON: ${(e as Error).message}`]);
    }
  } else {
    input = await importDefault(abs, path);
  }
  return { input, path: abs, dir: dirname(abs) };
}

/**
 * The default export of a .ts/.js config. The query string makes every load a new module, so a SIGHUP
 * reload sees the edited file (a plain absolute path plus query: Bun ignores a query on a file:// URL).
 * Modules the config itself imports stay cached until restart. Each reload leaves one module in memory.
 */
async function importDefault(abs: string, shown: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    // Imported by its real path: Bun remembers where a symlink pointed, and a Kubernetes ConfigMap update
    // swaps the `..data` symlink under the same file name (`--watch-config`).
    mod = await import(`${await realpath(abs)}?v=${Date.now()}-${++generation}`);
  } catch (e) {
    const message = String((e as Error)?.message ?? e).split("\n")[0];
    throw new ConfigError([`${shown}: cannot load the config file: ${message}`]);
  }
  if (!("default" in mod) || mod.default === undefined) {
    throw new ConfigError([`${shown}: no default export (write "export default defineConfig({ ... })")`]);
  }
  return mod.default;
}

/** The config used when none is named: ./sluice.config.ts, then ./sluice.config.json. */
export function findDefaultConfig(cwd: string): string | undefined {
  for (const name of ["sluice.config.ts", "sluice.config.json"]) {
    const candidate = join(cwd, name);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not there: try the next one
    }
  }
  return undefined;
}
