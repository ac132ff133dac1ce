// Turns `{ use, options }` references into set-up plugins: finds the module (built-in name, file path
// relative to the config, or package name), validates its options with its own schema, runs setup and
// checks the hooks it returned. Problems come back as config-style lines, all at once.
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import type { PluginRef } from "../config/schema.ts";
import { didYouMean } from "../config/errors.ts";
import { builtinPlugins } from "./builtins.ts";
import { HOOK_NAMES, type Plugin, type PluginHooks } from "./types.ts";
import { teardownPlugins } from "./teardown.ts";

export interface LoadedPlugin {
  name: string;
  hooks: PluginHooks;
}

export class PluginLoadError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

async function importPlugin(use: string, configDir: string): Promise<Plugin<unknown>> {
  const builtin = builtinPlugins[use];
  if (builtin) return (await builtin()) as Plugin<unknown>;
  const isPath = use.startsWith(".") || isAbsolute(use);
  // Paths are the config's, not the working directory's (the compiled binary resolves against its own root otherwise).
  const specifier = isPath ? resolve(configDir, use) : packageEntry(use, configDir);
  const module = await import(specifier);
  return (module.default ?? module) as Plugin<unknown>;
}

/**
 * A package name as the config's own project sees it: its node_modules (and the ones above it) first, so a
 * deployment installs plugins next to its config; then the gateway's own packages.
 */
function packageEntry(name: string, configDir: string): string {
  // Only what is installed in a node_modules counts: Bun's auto-install would otherwise fetch any name from the
  // registry (into its global cache) and run it, a typo too.
  for (const from of [join(configDir, "package.json"), import.meta.url]) {
    try {
      const entry = createRequire(from).resolve(name);
      if (/[\\/]node_modules[\\/]/.test(entry)) return entry;
    } catch {
      // not installed there: the next place
    }
  }
  throw new Error(`not a built-in plugin, a file or an installed package${didYouMean(name, Object.keys(builtinPlugins))}`);
}

function render(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let here = root as Record<PropertyKey, unknown> | undefined;
  for (const key of path) here = here && typeof here === "object" ? (here[key] as Record<PropertyKey, unknown>) : undefined;
  return here;
}

async function loadOne(ref: PluginRef, where: string, configDir: string): Promise<LoadedPlugin> {
  let plugin: Plugin<unknown>;
  try {
    plugin = await importPlugin(ref.use, configDir);
  } catch (error) {
    throw new PluginLoadError([`${where}.use: cannot load plugin (${(error as Error).message}) (got ${render(ref.use)})`]);
  }
  if (!plugin || typeof plugin.setup !== "function" || typeof plugin.name !== "string") {
    throw new PluginLoadError([`${where}.use: not a plugin: its default export needs a name and a setup function (got ${render(ref.use)})`]);
  }
  let options: unknown = ref.options;
  if (plugin.options) {
    const result = await plugin.options["~standard"].validate(ref.options ?? {});
    if (result.issues) {
      throw new PluginLoadError(
        result.issues.map((issue) => {
          const keys = (issue.path ?? []).map((p) => (typeof p === "object" ? p.key : p));
          const suffix = keys.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join("");
          return `${where}.options${suffix}: ${issue.message} (got ${render(valueAt(ref.options, keys))})`;
        }),
      );
    }
    options = result.value;
  }
  // The top-level list is "plugins"; a route's is "routes[N].plugins".
  const scope = where.startsWith("plugins[") ? "global" : "route";
  const hooks = await plugin.setup(options, { configDir, log: (m) => console.error(`[${plugin.name}] ${m}`), scope });
  const unknown = Object.keys(hooks ?? {}).filter((k) => !HOOK_NAMES.includes(k as keyof PluginHooks));
  if (unknown.length > 0) {
    throw new PluginLoadError([
      `${where}.use: plugin "${plugin.name}" returned unknown hooks ${unknown.join(", ")}; known: ${HOOK_NAMES.join(", ")} (got ${render(ref.use)})`,
    ]);
  }
  return { name: plugin.name, hooks: hooks ?? {} };
}

/** Load a list of plugin references; `where` is the config path of the list, like "routes[2].plugins". */
export async function loadPlugins(refs: readonly PluginRef[], where: string, configDir: string): Promise<LoadedPlugin[]> {
  const problems: string[] = [];
  const loaded: LoadedPlugin[] = [];
  for (const [i, ref] of refs.entries()) {
    try {
      loaded.push(await loadOne(ref, `${where}[${i}]`, configDir));
    } catch (error) {
      if (error instanceof PluginLoadError) problems.push(...error.problems);
      else problems.push(`${where}[${i}]: plugin setup failed: ${(error as Error).message} (got ${render(ref.use)})`);
    }
  }
  if (problems.length > 0) {
    // The ones that did set up are not going to serve: they close what they opened.
    await teardownPlugins(loaded, (line) => console.error(line));
    throw new PluginLoadError(problems);
  }
  return loaded;
}
