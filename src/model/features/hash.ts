// The hash every trainer must reproduce: MurmurHash3 x86_32 over the UTF-8 bytes of a string,
// seed 0 unless the spec says otherwise; a bucket is the unsigned hash modulo the bucket count.
// Golden vectors: test/fixtures/models/hash-golden.json (checked by test/model/features.test.ts).

const enc = new TextEncoder();

/**
 * MurmurHash3_x86_32 of `text`'s UTF-8 bytes, as an unsigned 32-bit integer.
 * @example murmur3_32('hello') // 613153351
 */
export function murmur3_32(text: string, seed = 0): number {
  return murmur3Bytes(enc.encode(text), seed);
}

export function murmur3Bytes(key: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const n = key.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // Tail bytes (the reference's fall-through switch, written without fall-through).
  const tail = n & 3;
  if (tail) {
    let k = 0;
    if (tail >= 3) k ^= key[blocks + 2]! << 16;
    if (tail >= 2) k ^= key[blocks + 1]! << 8;
    k ^= key[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The bucket of a string: murmur3_32(utf8(text), seed) mod buckets. */
export function hashBucket(text: string, buckets: number, seed = 0): number {
  return murmur3_32(text, seed) % buckets;
}

/**
 * Tokens of a text for hashed n-grams: NFC-normalized, lower-cased, split on every run of
 * characters that are not letters or digits; empty tokens dropped. N-grams join tokens with one space.
 */
export function tokenize(text: string): string[] {
  return text.normalize('NFC').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

export function ngrams(tokens: string[], sizes: number[]): string[] {
  const out: string[] = [];
  for (const n of sizes) for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '));
  return out;
}
