// Bounded top-k heaps, one per context, in flat typed arrays: memory is contexts × k entries
// whatever the number of candidates. A min-heap on the rank value keeps the worst kept entry at the
// root, so most candidates cost one comparison. Ties go to the earlier candidate (lower position).

export class TopK {
  readonly values: Float64Array;
  readonly positions: Float64Array;
  readonly scores: Float32Array;
  readonly sizes: Int32Array;

  constructor(readonly contexts: number, readonly k: number) {
    this.values = new Float64Array(contexts * k);
    this.positions = new Float64Array(contexts * k);
    this.scores = new Float32Array(contexts * k);
    this.sizes = new Int32Array(contexts);
  }

  /** `a` is worse than `b`: a lower value, or the same value at a later position. */
  private worse(a: number, b: number): boolean {
    const va = this.values[a]!;
    const vb = this.values[b]!;
    return va < vb || (va === vb && this.positions[a]! > this.positions[b]!);
  }

  /** Offers one candidate to context `c`'s heap; NaN values are never kept. */
  offer(c: number, value: number, position: number, score: number): void {
    if (value !== value) return;
    const base = c * this.k;
    const size = this.sizes[c]!;
    if (size < this.k) {
      this.set(base + size, value, position, score);
      this.sizes[c] = size + 1;
      this.up(base, size);
      return;
    }
    const rv = this.values[base]!;
    if (value < rv || (value === rv && position > this.positions[base]!)) return;
    this.set(base, value, position, score);
    this.down(base, this.k);
  }

  /** The threshold a value must beat to enter context `c`'s full heap (−Infinity while not full). */
  floor(c: number): number {
    return this.sizes[c]! < this.k ? -Infinity : this.values[c * this.k]!;
  }

  private set(i: number, v: number, p: number, s: number): void {
    this.values[i] = v;
    this.positions[i] = p;
    this.scores[i] = s;
  }

  private swap(i: number, j: number): void {
    const v = this.values[i]!, p = this.positions[i]!, s = this.scores[i]!;
    this.set(i, this.values[j]!, this.positions[j]!, this.scores[j]!);
    this.set(j, v, p, s);
  }

  private up(base: number, i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(base + i, base + parent)) return;
      this.swap(base + i, base + parent);
      i = parent;
    }
  }

  private down(base: number, size: number): void {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && this.worse(base + l, base + m)) m = l;
      if (r < size && this.worse(base + r, base + m)) m = r;
      if (m === i) return;
      this.swap(base + i, base + m);
      i = m;
    }
  }
}
