// A fixed number of the latest values, for the dashboard's history: pushing past the capacity overwrites the
// oldest, so memory stays what the constructor asked for however long the gateway runs. NaN marks a point
// with no value (a gap in a chart).

export class Ring {
  private readonly values: Float64Array;
  /** Where the oldest value is, once the ring is full. */
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a ring holds at least one value (got ${capacity})`);
    this.values = new Float64Array(capacity);
  }

  /** How many values it holds: up to `capacity`. */
  get length(): number {
    return this.size;
  }

  push(value: number): void {
    if (this.size < this.capacity) {
      this.values[(this.start + this.size) % this.capacity] = value;
      this.size++;
    } else {
      this.values[this.start] = value;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** The i-th value held, 0 being the oldest; undefined outside 0 … length-1. */
  at(i: number): number | undefined {
    if (i < 0 || i >= this.size) return undefined;
    return this.values[(this.start + i) % this.capacity];
  }

  /** The latest value, or undefined when empty. */
  get last(): number | undefined {
    return this.at(this.size - 1);
  }

  /** Oldest first, with null for NaN (what JSON can carry). */
  toArray(): Array<number | null> {
    const out = new Array<number | null>(this.size);
    for (let i = 0; i < this.size; i++) {
      const v = this.values[(this.start + i) % this.capacity]!;
      out[i] = Number.isNaN(v) ? null : v;
    }
    return out;
  }
}
