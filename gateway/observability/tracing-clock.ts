// When a span starts and ends: a performance.now() reading (monotonic, sub-millisecond, and cheaper than a wall
// clock read) taken on the request path, turned into the wall-clock HrTime the exporter sends only when the
// span is exported. The offset between the two clocks is read again every so often, as the wall clock is slewed
// (NTP) and the monotonic one is not.
import type { HrTime } from "@opentelemetry/api";

/** Wall clock minus monotonic clock, in milliseconds. */
let offsetMs = Date.now() - performance.now();

/** The monotonic clock in milliseconds: what a span keeps as its start and end. */
export function spanClock(): number {
  return performance.now();
}

/** Read the offset between the clocks again. */
export function resyncSpanClock(): void {
  offsetMs = Date.now() - performance.now();
}

/** Wall-clock time as seconds and nanoseconds since the epoch, the parts of an HrTime. */
export interface WallTime {
  seconds: number;
  nanos: number;
}

/** A spanClock() reading as wall-clock time since the epoch, written into `into` (no array for the exporter to drop). */
export function readWallTime(reading: number, into: WallTime): void {
  const ms = reading + offsetMs;
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    into.seconds = seconds + 1;
    into.nanos = nanos - 1e9;
  } else {
    into.seconds = seconds;
    into.nanos = nanos;
  }
}

const wall: WallTime = { seconds: 0, nanos: 0 };

/** A spanClock() reading as wall-clock [seconds, nanoseconds] since the epoch. */
export function wallTime(reading: number): HrTime {
  readWallTime(reading, wall);
  return [wall.seconds, wall.nanos];
}

/** A length of time in milliseconds as [seconds, nanoseconds]. */
export function hrDuration(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}
