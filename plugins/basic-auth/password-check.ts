// Checks a user's password against its bcrypt hash. bcrypt is slow on purpose (tens of milliseconds at cost 10),
// so a pair that passed is remembered for `cacheMs` (as Traefik and Caddy do): a browser sends the same credentials
// with every request, and each would otherwise pay the full cost. Requests with the same pair in flight at once
// share one check. Only passes are remembered, under a keyed hash of the pair (never the password itself, nor a
// plain fast hash of it that could be guessed against if memory leaked).
//
// An unknown user is checked against a dummy hash of the same cost as the real ones, so the time an answer takes
// does not tell which user names exist. bcryptjs compares the computed hash in constant time.
import bcrypt from "bcryptjs";
import { createHmac, randomBytes } from "node:crypto";
import { costOf } from "./bcrypt-hash.ts";

/** Remembered passes at most: enough for every active user of a site; beyond it the oldest goes. */
const MAX_REMEMBERED = 10_000;

export class PasswordCheck {
  private readonly remembered = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly cacheKey = randomBytes(32);

  private constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly dummyHash: string,
    private readonly cacheMs: number,
  ) {}

  static async create(users: ReadonlyMap<string, string>, cacheMs: number): Promise<PasswordCheck> {
    const cost = Math.max(...[...users.values()].map(costOf));
    const dummy = await bcrypt.hash(randomBytes(16).toString("hex"), cost);
    return new PasswordCheck(users, dummy, cacheMs);
  }

  /** Whether `password` is `user`'s. */
  verify(user: string, password: string): Promise<boolean> | boolean {
    // Neither part holds a NUL (credentials with control characters never get here): the pair is one text.
    const key = createHmac("sha256", this.cacheKey).update(`${user}\u0000${password}`).digest("latin1");
    const now = Date.now();
    const until = this.remembered.get(key);
    if (until !== undefined) {
      if (now < until) return true;
      this.remembered.delete(key);
    }
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      pending = this.check(user, password).then(
        (ok) => {
          this.inFlight.delete(key);
          if (ok && this.cacheMs > 0) this.remember(key, Date.now() + this.cacheMs);
          return ok;
        },
        (error) => {
          this.inFlight.delete(key);
          throw error;
        },
      );
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async check(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    // The dummy check runs to the end like a real one; its outcome is ignored.
    const matches = await bcrypt.compare(password, hash ?? this.dummyHash);
    return hash !== undefined && matches;
  }

  private remember(key: string, until: number): void {
    if (this.remembered.size >= MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
    this.remembered.set(key, until);
  }
}
