// A Bloom filter of prediction ids (decided, or quarantined as orphans), so a new prediction is
// looked up in the state only when it may be a duplicate: almost every prediction is new, and the
// lookup of each batch's ids was ~5% of a catch-up run. A "maybe" is answered by the state, so the
// filter's false positives (~1%) cost a lookup and nothing else; an id it holds that a rolled-back
// batch never stored only does the same. It grows as it fills (a chain of filters, each twice the
// last), so its memory follows the state: 10 bits an id, about 12 MB for 10M.
//
// Example: const f = new IdFilter(); f.add('p1'); f.mightHave('p1') === true; f.mightHave('p2') // false (almost always)

const BITS_PER_ID = 10;
const PROBES = 7;

interface Layer {
  bits: Uint32Array;
  /** bit count - 1 (a power of two) */
  mask: number;
  n: number;
  cap: number;
}

export class IdFilter {
  private readonly layers: Layer[] = [];

  constructor(capacity = 1 << 20) {
    this.addLayer(capacity);
  }

  private addLayer(cap: number): Layer {
    let m = 1 << 10;
    while (m < cap * BITS_PER_ID) m *= 2;
    const layer = { bits: new Uint32Array(m / 32), mask: m - 1, n: 0, cap };
    this.layers.push(layer);
    return layer;
  }

  add(id: string): void {
    let top = this.layers[this.layers.length - 1]!;
    if (top.n >= top.cap) top = this.addLayer(top.cap * 2);
    hash(id);
    const bits = top.bits;
    for (let i = 0; i < PROBES; i++) {
      const b = (h1 + Math.imul(i, h2)) & top.mask;
      bits[b >>> 5]! |= 1 << (b & 31);
    }
    top.n++;
  }

  /** false: `id` was never added; true: it may have been. */
  mightHave(id: string): boolean {
    hash(id);
    for (const layer of this.layers) {
      const bits = layer.bits;
      let all = true;
      for (let i = 0; i < PROBES && all; i++) {
        const b = (h1 + Math.imul(i, h2)) & layer.mask;
        all = (bits[b >>> 5]! & (1 << (b & 31))) !== 0;
      }
      if (all) return true;
    }
    return false;
  }
}

// Two 32-bit hashes of a string in one pass (FNV-1a and a second multiplier), combined per probe
// (Kirsch–Mitzenmacher); module state, not an allocated pair, on this hot path.
let h1 = 0;
let h2 = 0;
function hash(s: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  h1 = fmix(a);
  h2 = fmix(b) | 1;
}

/** MurmurHash3's finalizer: every input bit moves the low bits the masks keep. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
