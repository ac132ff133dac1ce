// `sluice health [--url URL]`: one GET to the admin listener's /healthz, for a container's HEALTHCHECK. A
// minimal image has no curl, so the binary probes itself. Healthy means a 200 answer within the timeout.
export const DEFAULT_HEALTH_URL = "http://127.0.0.1:9901/healthz";
const PROBE_TIMEOUT_MS = 3_000;

/** `ok` decides the exit code; `line` is what to print. */
export async function probeHealth(url: string): Promise<{ ok: boolean; line: string }> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, line: `sluice health: --url: expected an http:// URL (got ${url})` };
  }
  if (target.protocol !== "http:") return { ok: false, line: `sluice health: --url: expected an http:// URL (got ${url})` };
  try {
    const answer = await fetch(target, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: "manual" });
    await answer.body?.cancel();
    return answer.status === 200 ? { ok: true, line: "ok" } : { ok: false, line: `sluice health: ${url} answered ${answer.status}` };
  } catch (error) {
    return { ok: false, line: `sluice health: ${url} did not answer (${(error as Error).message})` };
  }
}
