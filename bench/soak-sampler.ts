// What the soak run watches, once a second: the gateway's resident memory (VmRSS), its open file descriptors
// (/proc/PID/fd), and its answers so far by status class (from the admin listener's /metrics), so that every
// second has its requests and its errors (5xx: answers the gateway itself could not get from a backend).
import { readdirSync } from "node:fs";
import { memoryOf } from "./procs.ts";

export interface Sample {
  /** Seconds since the load began. */
  t: number;
  rssMB: number;
  fds: number;
  /** Answers since the gateway started, all statuses. */
  requests: number;
  /** 5xx answers since the gateway started. */
  errors: number;
}

export interface Sampler {
  readonly samples: Sample[];
  stop(): Promise<void>;
}

/** Sample process `pid` every second from now; `metricsUrl` is the gateway's /metrics. */
export function startSampler(pid: number, metricsUrl: string, startedAt: number): Sampler {
  const samples: Sample[] = [];
  let busy: Promise<void> | undefined;
  const take = async () => {
    const t = (Date.now() - startedAt) / 1000;
    const memory = memoryOf(pid);
    const fds = openFds(pid);
    const answers = await answered(metricsUrl).catch(() => undefined);
    // A second the gateway could not be read (it is gone, or /metrics did not answer) is left out.
    if (memory && fds !== undefined && answers) samples.push({ t, rssMB: memory.rssMB, fds, ...answers });
  };
  const timer = setInterval(() => {
    if (!busy) busy = take().finally(() => (busy = undefined));
  }, 1_000);
  return {
    samples,
    async stop() {
      clearInterval(timer);
      await busy;
    },
  };
}

function openFds(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** The sums of sluice_http_requests_total: all answers, and the 5xx ones. */
async function answered(metricsUrl: string): Promise<{ requests: number; errors: number }> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(900) })).text();
  let requests = 0;
  let errors = 0;
  // sluice_http_requests_total{route="app",code="2xx"} 1234
  for (const m of text.matchAll(/^sluice_http_requests_total\{[^}]*code="(\dxx)"[^}]*\} (\d+)/gm)) {
    const n = Number(m[2]);
    requests += n;
    if (m[1] === "5xx") errors += n;
  }
  return { requests, errors };
}
