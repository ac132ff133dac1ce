// `sluice check --config PATH`: the same loading as startup, reported as text instead of thrown, and every
// problem in one run: the schema's, the references' and route patterns' (over what parsed, when the schema
// found problems), the TLS files' (listeners' certificates, pools' upstream TLS) and the plugins'. Plugins are loaded as startup loads them — a
// plugin that does not exist or options a plugin refuses fail the check — and torn down at once: their setup
// may have opened clients that must not outlive the check.
import { ConfigError } from "./errors.ts";
import { readConfigInput } from "./load.ts";
import { inspectConfig } from "./validate.ts";
import { loadListenerCertificates, loadUpstreamTls } from "./certificates.ts";
import { getRuntime } from "../runtime/current.ts";
import { loadPlugins, PluginLoadError, type LoadedPlugin } from "../plugin/load.ts";
import { teardownPlugins } from "../plugin/teardown.ts";
import type { Config } from "./schema.ts";

/** `lines` is exactly what to print: ["ok"] for a good config, else one line per problem (exit 1). */
export async function checkConfig(path: string, knownBalancers: string[]): Promise<{ ok: boolean; lines: string[] }> {
  try {
    const { input, dir } = await readConfigInput(path);
    const { problems, usable } = inspectConfig(input, knownBalancers);
    const { tlsClientLimits } = await getRuntime();
    const lines = [
      ...problems,
      // The files TLS reads, as startup reads them: the listeners' certificates and the pools' upstream TLS.
      ...configProblems(() => loadListenerCertificates(usable, dir)),
      ...configProblems(() => loadUpstreamTls(usable, dir, tlsClientLimits)),
    ];
    lines.push(...(await checkPlugins(usable, dir)));
    return lines.length === 0 ? { ok: true, lines: ["ok"] } : { ok: false, lines };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, lines: e.problems };
    return { ok: false, lines: [`${path}: ${(e as Error)?.message ?? String(e)}`] }; // a bug, but still one line
  }
}

/** The lines of the ConfigError `load` throws, or none. */
function configProblems(load: () => unknown): string[] {
  try {
    load();
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

/** Every plugin list of the config loaded and set up; the problems of all of them, in the order of the file. */
async function checkPlugins(config: Config, dir: string): Promise<string[]> {
  const lists: [where: string, refs: Config["plugins"]][] = [
    ["plugins", config.plugins],
    ...config.routes.map((route, i): [string, Config["plugins"]] => [`routes[${i}].plugins`, route.plugins]),
  ];
  const problems: string[] = [];
  const loaded: LoadedPlugin[] = [];
  for (const [where, refs] of lists) {
    if (refs.length === 0) continue;
    try {
      loaded.push(...(await loadPlugins(refs, where, dir)));
    } catch (error) {
      if (error instanceof PluginLoadError) problems.push(...error.problems);
      else problems.push(`${where}: ${(error as Error)?.message ?? String(error)}`);
    }
  }
  await teardownPlugins(loaded, (line) => console.error(line));
  return problems;
}
