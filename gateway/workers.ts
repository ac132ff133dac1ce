// `workers`: several gateway processes share the listen ports (SO_REUSEPORT), so the kernel spreads
// connections over them and every core serves requests. The first process is the primary: it also runs the
// admin listener, and passes SIGTERM/SIGHUP/SIGUSR1 on to the others. Each worker counts on its own (requests,
// passive failures, in-flight requests), like nginx workers without a shared zone; over the channel to the
// primary (workers/channel.ts) they still act as one gateway:
// - /metrics sums every process's figures, and /status sums them and lists each process (workers/merged-status.ts);
// - an admin change (drain, disable, enable, weight) is applied by the primary and by every worker before the
//   admin API answers;
// - the primary alone runs the active health checks; workers follow its verdicts (workers/follower.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import process from "node:process";
import type { Runtime } from "./runtime/types.ts";
import type { Snapshot } from "./snapshot.ts";
import type { Figures } from "./observability/exposition.ts";
import { CHANNEL_ENV, connectToPrimary, PrimaryChannel, type WorkerLink } from "./workers/channel.ts";
import { asChangeOutcome, asFigures, asProcessView, type Question, type ServerChange, type SharedServerState } from "./workers/messages.ts";
import type { ProcessView } from "./workers/process-view.ts";
import type { WorkerEntry } from "./workers/merged-status.ts";
import type { PrimaryFollower } from "./workers/follower.ts";
import { applyChange, type WorkerReplies } from "./admin/server-actions.ts";

/** Set in the environment of the processes the primary starts: the worker's number, 1…N. */
export const WORKER_ENV = "SLUICE_WORKER";
/** The primary's sticky-cookie secret, so that every worker honours the cookies the others issue. */
export const STICKY_SECRET_ENV = "SLUICE_STICKY_SECRET";

/** How long /metrics and /status wait for a worker's figures or view. */
const ASK_TIMEOUT_MS = 1_000;
/** How long an admin change waits for every worker to confirm it. */
const CHANGE_TIMEOUT_MS = 2_000;
/**
 * A worker that dies is started again (as nginx's master does) after this wait, doubled each time it dies again
 * within STABLE_MS of starting, up to RESTART_MAX_MS: a worker that cannot start does not spin.
 */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000;

export function workerCount(setting: number | "auto"): number {
  return setting === "auto" ? availableParallelism() : setting;
}

/** What the primary gateway tells its workers about. */
export interface PrimarySide {
  /** Every server's shared state (health verdict, admin state, weight): sent whole to a worker that joins. */
  sharedState(): SharedServerState[];
}

export interface WorkerGroup {
  signal(signal: "SIGTERM" | "SIGHUP" | "SIGUSR1"): void;
  /** Resolves when every worker has exited. */
  exited(): Promise<void>;
  /** The figures of every worker that answers in time (for the primary's /metrics). */
  figures(): Promise<Figures[]>;
  /** `sluice_worker_up{worker}`: 1 for each worker connected to the primary, 0 for one starting or gone. */
  upFigures(): Figures;
  /** Every worker as /status lists it: its own view when it answers in time, else how it is. */
  entries(): Promise<WorkerEntry[]>;
  /** Apply an admin change in every live worker; resolves when all confirmed, or after a bounded wait. */
  change(change: ServerChange): Promise<WorkerReplies>;
  /** The primary's checks flipped these servers (or, `whole`, this is every server's verdict): every worker follows. */
  healthChanged(servers: SharedServerState[], whole?: boolean): void;
}

/** One worker's place: the process that fills it now, replaced when it dies. */
interface Child {
  worker: number;
  process: ChildProcess;
  startedAt: number;
  /** How it ended: "exit 1", "SIGKILL"; undefined while it runs. */
  exit?: string;
  /** How many times it was started again. */
  restarts: number;
  /** The wait before the next restart. */
  backoff: number;
  restartTimer?: ReturnType<typeof setTimeout>;
}

/** Start `count` more gateway processes with the same arguments. */
export async function startWorkers(runtime: Runtime, count: number, args: string[], stickySecret: string, primary: PrimarySide): Promise<WorkerGroup> {
  const [command, ...prefix] = runtime.selfCommand();
  const links = new Map<number, WorkerLink>();
  const joinedOnce = new Set<number>();
  const channel = await PrimaryChannel.open(runtime, {
    joined(link) {
      const known = link.worker >= 1 && link.worker <= count;
      if (!known) return link.socket.destroy();
      // A worker that connects again replaces its old connection.
      const old = links.get(link.worker);
      links.set(link.worker, link);
      joinedOnce.add(link.worker);
      if (old && old !== link) old.socket.destroy();
      link.push(primary.sharedState(), true);
    },
    left(link) {
      if (links.get(link.worker) === link) links.delete(link.worker);
    },
  });
  let stopping = false;
  const launch = (worker: number) =>
    spawn(command!, [...prefix, ...args], {
      env: { ...process.env, [WORKER_ENV]: String(worker), [STICKY_SECRET_ENV]: stickySecret, [CHANNEL_ENV]: channel.env },
      // A pipe on stdin: when the primary dies for any reason, the worker sees end-of-file and exits.
      stdio: ["pipe", "inherit", "inherit"],
    });
  const watch = (entry: Child) => {
    entry.process.on("exit", (code, signal) => {
      entry.exit = signal ?? `exit ${code}`;
      if (stopping) return;
      // After a good run, start again soon; dying again soon after its start, wait longer each time.
      if (Date.now() - entry.startedAt >= STABLE_MS) entry.backoff = RESTART_MIN_MS;
      const wait = entry.backoff;
      entry.backoff = Math.min(wait * 2, RESTART_MAX_MS);
      console.error(`sluice: worker ${entry.worker} exited (${entry.exit}): starting it again in ${wait} ms`);
      entry.restartTimer = setTimeout(() => {
        entry.restartTimer = undefined;
        if (stopping) return;
        entry.restarts++;
        entry.process = launch(entry.worker);
        entry.startedAt = Date.now();
        entry.exit = undefined;
        joinedOnce.delete(entry.worker);
        watch(entry);
      }, wait);
    });
  };
  const children: Child[] = [];
  for (let i = 1; i <= count; i++) {
    const entry: Child = { worker: i, process: launch(i), startedAt: Date.now(), restarts: 0, backoff: RESTART_MIN_MS };
    watch(entry);
    children.push(entry);
  }
  const live = () => children.filter((c) => c.exit === undefined);
  /** Ask every live worker; each answer is checked by `as` (undefined: no answer in time, or a malformed one). */
  const askEvery = <T>(question: Question, timeoutMs: number, as: (v: unknown) => T | undefined) =>
    Promise.all(live().map(async (c) => ({ child: c, answer: as(await links.get(c.worker)?.ask(question, timeoutMs)) })));

  return {
    signal(signal) {
      if (signal === "SIGTERM") {
        stopping = true;
        children.forEach((c) => clearTimeout(c.restartTimer));
      }
      live().forEach((c) => c.process.kill(signal));
    },
    exited: () =>
      Promise.all(children.map((c) => (c.exit !== undefined ? undefined : new Promise((r) => c.process.once("exit", r))))).then(() => channel.close()),
    async figures() {
      const answers = await askEvery({ what: "figures" }, ASK_TIMEOUT_MS, asFigures);
      return answers.flatMap(({ answer }) => (answer ? [answer] : []));
    },
    upFigures: () => ({ sluice_worker_up: children.map((c) => ["", ["worker", String(c.worker)], c.exit === undefined && links.has(c.worker) ? 1 : 0]) }),
    async entries() {
      const answers = new Map((await askEvery({ what: "view" }, ASK_TIMEOUT_MS, asProcessView)).map(({ child, answer }) => [child, answer]));
      return children.map((c): WorkerEntry => {
        const pid = c.process.pid;
        const restarts = c.restarts;
        if (c.exit !== undefined) return { state: "gone", worker: c.worker, pid, exit: c.exit, restarts };
        const view = answers.get(c);
        if (view) return { ...view, state: "up", restarts };
        return { state: links.has(c.worker) ? "silent" : joinedOnce.has(c.worker) ? "unreachable" : "starting", worker: c.worker, pid, restarts };
      });
    },
    async change(change) {
      const answers = await askEvery({ what: "change", change }, CHANGE_TIMEOUT_MS, asChangeOutcome);
      const replies: WorkerReplies = { applied: [], refused: [], unanswered: [] };
      for (const { child, answer } of answers) {
        if (answer?.applied === true) replies.applied.push(child.worker);
        else if (answer?.applied === false) replies.refused.push({ worker: child.worker, error: answer.error });
        else replies.unanswered.push(child.worker);
      }
      return replies;
    },
    healthChanged(servers, whole = false) {
      for (const link of links.values()) link.push(servers, whole);
    },
  };
}

/** What a worker's gateway offers the primary. */
export interface FollowingGateway {
  readonly current: Snapshot;
  /** Where the primary's health verdicts and admin state go (used in place of active checks). */
  readonly follower: PrimaryFollower;
  countedFigures(): Figures;
  processView(worker: number): ProcessView;
}

/**
 * In a worker: join the primary's channel; answer its questions (figures, this process's view, admin changes)
 * and follow the servers' state it pushes. A worker that cannot reach it serves on, but says so: it then runs
 * without the primary's health verdicts and admin changes, and is missing from /metrics and /status.
 */
export function followPrimary(runtime: Runtime, gateway: FollowingGateway): void {
  const env = runtime.env(CHANNEL_ENV);
  const worker = Number(runtime.env(WORKER_ENV));
  if (env === undefined) return;
  const side = {
    answer(question: Question): unknown {
      switch (question.what) {
        case "figures":
          return gateway.countedFigures();
        case "view":
          return gateway.processView(worker);
        case "change": {
          const applied = applyChange(gateway.current.pools, question.change);
          return typeof applied === "string" ? { applied: false, error: applied } : { applied: true };
        }
      }
    },
    follow: (servers: SharedServerState[], whole: boolean) => gateway.follower.receive(servers, whole),
  };
  connectToPrimary(runtime, env, { worker, pid: process.pid }, side).catch((error) => {
    console.error(
      `sluice: worker ${worker} cannot reach the primary process (${(error as Error)?.message ?? error}): ` +
        "it serves without the primary's health verdicts and admin changes, and is left out of /metrics and /status",
    );
  });
}

/** In a worker: exit when the primary goes away. */
export function exitWithPrimary(runtime: Runtime): void {
  process.stdin.on("end", () => runtime.exit(0));
  process.stdin.on("error", () => runtime.exit(0));
  process.stdin.resume();
}
