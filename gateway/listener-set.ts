// The listeners of one kind (HTTP, TCP, UDP, admin) across reloads. A listener is known by its address as the
// config writes it: a reload keeps every listener whose address stays — its socket and its connections are not
// touched —, opens the addresses that are new, and closes those no longer listed, whose connections get the
// shutdown timeout to finish (as at SIGTERM). Opening is all or nothing: when one new address cannot be listened
// on (a port in use), the ones opened for the same reload are closed again and the reload is refused, so the
// running set stays exactly as it was. nginx and HAProxy apply listen changes on reload the same way, by keeping
// the sockets that match and binding the rest.
import { formatAddress, parseAddress } from "./config/address.ts";

export interface ListenerKind<S, L> {
  /** Listen as `settings` say; rejects when the address cannot be listened on. */
  open(settings: S): Promise<L>;
  /** Stop accepting at once; let open connections end for up to `graceMs`, then cut them. */
  close(listener: L, graceMs: number): Promise<void>;
  /**
   * The addresses it is bound to, with their ports: a listener written with port 0 is also known by the port the
   * kernel gave it, so a config naming that port (a reload of what /status shows) keeps it instead of binding twice.
   */
  bound(listener: L): string[];
}

/** One listener a config asks for. */
export interface WantedListener<S> {
  /** The address as the config writes it (port 0: any free port, kept as long as the entry stays). */
  address: string;
  /** Where in the config, for problems: `listen[1]`, `tcp[0].listen`. */
  where: string;
  settings: S;
}

/** A listener a reload keeps: running with the settings of when it was opened. */
export interface KeptListener<S, L> {
  listener: L;
  address: string;
  where: string;
  running: S;
  wanted: S;
}

/** What a reload would change in one set: opened already, applied by `commit`, undone by `cancel`. */
export interface ListenerChange<S, L> {
  opened: string[];
  closed: string[];
  kept: KeptListener<S, L>[];
  /** The new set takes over; the listeners no longer wanted are closed (in the background, within `graceMs`). */
  commit(graceMs: number): void;
  /** The listeners opened for this change are closed again; the running set stays. */
  cancel(): Promise<void>;
}

interface Entry<S, L> {
  key: string;
  address: string;
  settings: S;
  listener: L;
}

export class ListenerSet<S, L> {
  private entries: Entry<S, L>[] = [];
  /** Listeners a reload removed that are still letting their connections finish. */
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly kind: ListenerKind<S, L>) {}

  /** The listeners serving now, in config order. */
  get listeners(): L[] {
    return this.entries.map((e) => e.listener);
  }

  /** Open what `wanted` adds to the running set; nothing else changes until `commit`. */
  async prepare(wanted: readonly WantedListener<S>[]): Promise<ListenerChange<S, L>> {
    const match = this.match(wanted);
    const running = new Set(this.entries);
    const next: Entry<S, L>[] = [];
    const fresh: Entry<S, L>[] = [];
    const kept: KeptListener<S, L>[] = [];
    for (const [i, want] of wanted.entries()) {
      const key = addressKey(want.address);
      const same = match[i];
      if (same) {
        running.delete(same);
        next.push(same);
        kept.push({ listener: same.listener, address: want.address, where: want.where, running: same.settings, wanted: want.settings });
        continue;
      }
      let listener: L;
      try {
        listener = await this.kind.open(want.settings);
      } catch (error) {
        await Promise.all(fresh.map((e) => this.kind.close(e.listener, 0)));
        throw new ListenError(`${want.where}: cannot listen on ${want.address} (${listenFailure(error)})`, error);
      }
      const entry = { key, address: want.address, settings: want.settings, listener };
      fresh.push(entry);
      next.push(entry);
    }
    const removed = [...running];
    return {
      opened: fresh.map((e) => e.address),
      closed: removed.map((e) => e.address),
      kept,
      commit: (graceMs) => {
        this.entries = next;
        for (const entry of removed) this.closeLater(entry.listener, graceMs);
      },
      cancel: async () => {
        await Promise.all(fresh.map((e) => this.kind.close(e.listener, 0)));
      },
    };
  }

  /**
   * The running listener each wanted address keeps, if any. An address with a port matches the entry written the
   * same way, else the one bound there (a port-0 entry the kernel gave that port); port-0 addresses then take the
   * port-0 entries left, in order — several entries may share such an address.
   */
  private match(wanted: readonly WantedListener<S>[]): Array<Entry<S, L> | undefined> {
    const free = new Set(this.entries);
    const keys = wanted.map((w) => addressKey(w.address));
    const anyPort = keys.map((key) => parseAddress(key)?.port === 0);
    const found: Array<Entry<S, L> | undefined> = keys.map(() => undefined);
    const claim = (i: number, test: (e: Entry<S, L>) => boolean) => {
      for (const e of free) {
        if (!test(e)) continue;
        free.delete(e);
        found[i] = e;
        return;
      }
    };
    keys.forEach((key, i) => !anyPort[i] && claim(i, (e) => e.key === key));
    keys.forEach((key, i) => !anyPort[i] && !found[i] && claim(i, (e) => this.kind.bound(e.listener).some((a) => addressKey(a) === key)));
    keys.forEach((key, i) => anyPort[i] && claim(i, (e) => e.key === key));
    return found;
  }

  /** Stop every listener, those still closing after a reload included: resolves when all are closed. */
  async stop(graceMs: number): Promise<void> {
    const all = this.entries.map((e) => this.kind.close(e.listener, graceMs));
    this.entries = [];
    await Promise.all([...all, ...this.closing]);
  }

  /** Resolves when the listeners reloads removed have closed (their last connection ended, or was cut). */
  async drained(): Promise<void> {
    await Promise.all([...this.closing]);
  }

  private closeLater(listener: L, graceMs: number): void {
    const done: Promise<void> = this.kind
      .close(listener, graceMs)
      .catch((error) => console.error(`sluice: closing a listener the reload removed: ${(error as Error)?.message ?? error}`))
      .finally(() => this.closing.delete(done));
    this.closing.add(done);
  }
}

/** A listener the config asks for could not be opened: the line says which and why. */
export class ListenError extends Error {
  readonly problems: string[];
  /** The system's code (EADDRINUSE…), as the error of a failed listen has it. */
  readonly code: string | undefined;
  constructor(line: string, cause: unknown) {
    super(line, { cause });
    this.name = "ListenError";
    this.problems = [line];
    const e = cause as { code?: string; cause?: { code?: string } } | undefined;
    this.code = e?.code ?? e?.cause?.code;
  }
}

/**
 * Prepare the changes of several sets, all or nothing: when one fails, those prepared before it are cancelled
 * and the failure is passed on.
 */
export async function prepareAll(steps: ReadonlyArray<() => Promise<ListenerChange<unknown, unknown>>>): Promise<ListenerChange<unknown, unknown>[]> {
  const done: ListenerChange<unknown, unknown>[] = [];
  try {
    for (const step of steps) done.push(await step());
  } catch (error) {
    await Promise.all(done.map((change) => change.cancel()));
    throw error;
  }
  return done;
}

/**
 * Stop something with a graceful and a forced stop (an HTTP listener): gracefully first, forced once `graceMs`
 * have passed.
 */
export async function stopWithin(listener: { stop(force?: boolean): Promise<void> }, graceMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), Math.max(0, graceMs))));
  const outcome = await Promise.race([listener.stop(false), deadline]);
  clearTimeout(timer);
  if (outcome === "timeout") await listener.stop(true);
}

/** The same address written two ways (`:8080`, `0.0.0.0:8080`) is one listener. */
function addressKey(address: string): string {
  const parsed = parseAddress(address);
  return parsed ? formatAddress(parsed) : address;
}

function listenFailure(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  if (code === "EADDRINUSE") return "address already in use";
  if (code === "EACCES") return "permission denied: ports below 1024 need privileges";
  if (code === "EADDRNOTAVAIL") return "no such address on this machine";
  return e?.cause?.message ?? e?.message ?? String(error);
}
