// POST /reload on the admin listener: reload the config file as SIGHUP does, and answer with the result — 200 with
// `"status": "reloaded"` when the new config serves, 400 with `"error"` and every problem when it was refused (the
// running config stays), as Caddy's `POST /load` answers. Both carry the whole result that /status keeps as
// `reload.lastAttempt`: when, what asked, the problems, notes on what needs a restart, listeners opened and closed.
import type { Context } from "hono";
import type { ReloadResult } from "../reload-result.ts";

/** `reload` resolves with the result, refused or not; it rejects only when the reload could not even be tried. */
export function reloadEndpoint(reload: () => Promise<ReloadResult>, log: (line: string) => void): (c: Context) => Promise<Response> {
  return async (c) => {
    let result: ReloadResult;
    try {
      result = await reload();
    } catch (error) {
      const problems = String((error as Error)?.message ?? error)
        .split("\n")
        .filter((line) => line.trim() !== "");
      log(`sluice: admin: reload failed, the running config stays:\n${problems.join("\n")}`);
      return c.json({ error: "reload failed: the running config stays", problems }, 500);
    }
    if (!result.success) {
      log(`sluice: admin: reload refused, the running config stays:\n${result.problems.join("\n")}`);
      return c.json({ error: "reload refused: the running config stays", ...result }, 400);
    }
    log("sluice: admin: config reloaded");
    return c.json({ status: "reloaded", ...result });
  };
}
