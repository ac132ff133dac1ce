// Checks on the children a benchmark measures, which stop the run rather than let it print figures of the
// wrong process: each is still running, each is the server itself, and each runs on its CPUs when pinned.
import { readlinkSync } from "node:fs";
import { basename } from "node:path";
import { processTree } from "./cpu-time.ts";
import { threadsOffCpus } from "./pinning.ts";
import { tail, type Child } from "./procs.ts";

/** Throws with the last lines of its output when one of `children` has exited. */
export function checkAlive(children: Child[]): void {
  for (const c of children) {
    if (c.exited) throw new Error(`${c.name} exited (code ${c.exitCode}) during the run:\n${tail(c.logPath)}`);
  }
}

/** The CPU figures are read from `child.pid`: it must be the server itself (`executable`, not a wrapper
 *  such as npm, sh or taskset), with nothing in between. In pinned mode (`cpus` not null) every thread of
 *  it must be on its CPU list (taskset has done its work). */
export function checkMeasurable(child: Child, executable: RegExp, cpus: string | null): void {
  let exe = "";
  try {
    exe = basename(readlinkSync(`/proc/${child.pid}/exe`));
  } catch (error) {
    throw new Error(`${child.name}: cannot read /proc/${child.pid}/exe: ${(error as Error).message}`);
  }
  if (!executable.test(exe))
    throw new Error(`${child.name}: pid ${child.pid} runs ${exe}, not ${executable.source}: CPU time would be measured on the wrong process`);
  if (cpus === null) return;
  for (const pid of processTree(child.pid)) {
    const off = threadsOffCpus(pid, cpus);
    if (off.length > 0) throw new Error(`${child.name}: threads of pid ${pid} not on CPU ${cpus} (tid: CPUs): ${off.join(", ")}`);
  }
}
