// Counts the Request objects the gateway makes while `run` goes on: a route on the engine's byte path makes none,
// one served through the hono app makes one per request. The test's own fetch() and Bun.serve upstreams make
// theirs natively, without the global constructor, so they are not counted.
export async function requestObjectsMade(run: () => Promise<void>): Promise<number> {
  const Original = globalThis.Request;
  let made = 0;
  globalThis.Request = class extends Original {
    constructor(...args: ConstructorParameters<typeof Request>) {
      super(...args);
      made++;
    }
  } as typeof Request;
  try {
    await run();
  } finally {
    globalThis.Request = Original;
  }
  return made;
}
