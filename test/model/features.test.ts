// Feature specs: published hash vectors, batch and single-row transforms giving bit-identical
// tensors (and the SQL fast path too), images through sharp, and statistics frozen from data.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { murmur3_32, ngrams, tokenize, hashBucket } from '../../src/model/features/hash.ts';
import { compileSpec } from '../../src/model/features/compile.ts';
import { FeatureSpecSchema } from '../../src/model/features/spec.ts';
import { readBatches } from '../../src/model/infer/reader.ts';
import { toRows } from '../../src/model/backends/backend.ts';
import { freezeSpec } from '../../src/model/freeze.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { type Fixture, fixture } from './fixture.ts';

const golden = JSON.parse(readFileSync(new URL('../fixtures/models/hash-golden.json', import.meta.url), 'utf8')) as {
  hashes: { text: string; seed: number; murmur3_32: number; bucket_1000: number }[];
  texts: { text: string; tokens: string[]; ngrams_1_2: string[]; buckets_16: number[] }[];
};

const bits = (a: Float32Array | BigInt64Array) => Array.from(a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a, String);

describe('hashing', () => {
  it('matches the published MurmurHash3_x86_32 values', () => {
    expect(murmur3_32('')).toBe(0);
    expect(murmur3_32('hello')).toBe(613153351);
    expect(murmur3_32('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });
  it('reproduces every golden vector in test/fixtures/models/hash-golden.json', () => {
    expect(golden.hashes.length).toBe(26);
    for (const g of golden.hashes) {
      expect(murmur3_32(g.text, g.seed)).toBe(g.murmur3_32);
      expect(hashBucket(g.text, 1000, g.seed)).toBe(g.bucket_1000);
    }
    for (const t of golden.texts) {
      expect(tokenize(t.text)).toEqual(t.tokens);
      expect(ngrams(t.tokens, [1, 2])).toEqual(t.ngrams_1_2);
      expect(t.ngrams_1_2.map((g) => hashBucket(g, 16))).toEqual(t.buckets_16);
    }
    expect(golden.texts[0]!.ngrams_1_2).toEqual(['hello', 'world', 'hello', 'hello world', 'world hello']);
  });
});

let fx: Fixture;
beforeEach(async () => {
  fx = await fixture();
});
afterEach(async () => fx.close());

const mixed = {
  inputs: [
    {
      name: 'dense',
      features: [
        { number: 'price', fill: -1, clip: [0, 100] as [number, number], standardize: { mean: 12.345678901234567, std: 3.3 } },
        { number: 'qty' , fill: 0 },
        { number: 'ratio', standardize: { mean: 0.1, std: 0.7 } },
      ],
    },
    {
      name: 'mixed',
      features: [
        { category: 'country', vocab: ['de', 'fr', 'us'], encode: 'one_hot' as const },
        { text: 'title', ngrams: [1, 2], buckets: 8 },
        { list: 'emb', length: 3 },
      ],
    },
    { name: 'ids', dtype: 'int64' as const, features: [{ category: 'country', vocab: ['de', 'fr', 'us'] }, { category: 'ad', hash: { buckets: 1000 } }] },
  ],
};

const DATA = `SELECT * FROM (VALUES
  (1, 10.5::DOUBLE, 3::INTEGER, 0.3::FLOAT, 'de', 'Red shoes, red!', [0.5, 1.5, 2.5]::FLOAT[], 'ad-1'),
  (2, NULL, NULL, 1e-3::FLOAT, 'xx', NULL, [1, 2, 3]::FLOAT[], 'ad-2'),
  (3, 'NaN'::DOUBLE, 7::INTEGER, -2.75::FLOAT, NULL, 'Blue', [0, 0, 1e-7]::FLOAT[], NULL),
  (4, 1e9::DOUBLE, -4::INTEGER, 123456.789::FLOAT, 'us', 'été café', [9, 8, 7]::FLOAT[], 'ad-1'),
  (5, 0.1::DOUBLE, 0::INTEGER, NULL, 'fr', '', [1, 2]::FLOAT[], 'ad-5')
) t(k, price, qty, ratio, country, title, emb, ad)`;

describe('compiled feature spec', () => {
  it('gives bit-identical tensors for a batch of columns, for single rows, and through the SQL fast path', async () => {
    const t = compileSpec(mixed);
    await fx.dataset('rows', DATA);
    const duck = await fx.project.duck();
    const m = await fx.project.catalog.manifest('rows', 1);
    const rows = await duck.all<Record<string, unknown>>(`SELECT * FROM (${scanSql(fx.project.dataDir, m)}) ORDER BY k`);
    // Row by row (serving).
    const single: Record<string, Float32Array | BigInt64Array | string>[] = [];
    for (const r of rows) {
      try {
        single.push(await t.row(r));
      } catch (e) {
        single.push({ error: (e as Error).message });
      }
    }
    expect(single.map((s) => (typeof s.error === 'string' ? s.error : 'ok'))).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'feature ratio: missing value (NULL) and no fill rule',
    ]);
    // One batch of columns.
    const cols = Object.fromEntries(Object.keys(rows[0]!).map((c) => [c, rows.map((r) => r[c])]));
    const batch = await t.batch(cols, rows.length);
    // Row 5 fails twice (ratio, then emb); the first failing feature gives the reason.
    expect([...batch.failed]).toEqual([[4, 'feature ratio: missing value (NULL) and no fill rule']]);
    for (const p of t.inputs) {
      for (let i = 0; i < 4; i++) {
        const one = single[i]![p.name] as Float32Array | BigInt64Array;
        expect(bits(batch.tensors[p.name]!.subarray(i * p.rowSize, (i + 1) * p.rowSize) as Float32Array)).toEqual(bits(one));
      }
    }
    // The batch-inference reader (SQL per number column, kernels for the rest).
    const read = [];
    for await (const b of readBatches(duck, t.spec, `(SELECT * FROM (${scanSql(fx.project.dataDir, m)}) ORDER BY k)`, 3)) read.push(b);
    expect(read.map((b) => b.rows)).toEqual([3, 2]);
    expect(read[1]!.failed.has(1)).toBe(true);
    for (const p of t.inputs) {
      for (let i = 0; i < 4; i++) {
        const b = read[Math.floor(i / 3)]!;
        const rowsT = toRows(b.inputs[p.name]!);
        const r = i % 3;
        expect(bits(rowsT.data.subarray(r * p.rowSize, (r + 1) * p.rowSize) as Float32Array)).toEqual(bits(single[i]![p.name] as Float32Array));
      }
    }
    // Values a trainer elsewhere must reproduce: standardize in float64, one rounding.
    const dense = single[0]!.dense as Float32Array;
    expect(dense[0]).toBe(Math.fround((10.5 - 12.345678901234567) / 3.3));
    expect(Array.from(single[1]!.dense as Float32Array)).toEqual([Math.fround((0 - 12.345678901234567) / 3.3), 0, Math.fround((Math.fround(1e-3) - 0.1) / 0.7)]);
    expect(Array.from(single[1]!.ids as BigInt64Array)).toEqual([0n, BigInt(murmur3_32('ad-2') % 1000)]);
    expect(Array.from((single[0]!.mixed as Float32Array).subarray(0, 4))).toEqual([0, 1, 0, 0]);
  });

  it('rejects a spec that is not valid, naming the path', () => {
    expect(() => compileSpec({ inputs: [{ name: 'x', features: [{ number: 'a', clip: [5, 1] }] }] })).toThrow('feature spec: inputs.0.features.0.clip: clip is [lo, hi] with lo <= hi');
    expect(() => compileSpec({ inputs: [{ name: 'x', features: [{ category: 'c' }] }] })).toThrow('a category needs exactly one of vocab or hash');
  });

  it('decodes, resizes and normalizes an image to float32 CHW, and dead-letters bytes that are not an image', async () => {
    const raw = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]); // 2×2 RGB
    const png = await sharp(raw, { raw: { width: 2, height: 2, channels: 3 } }).png().toBuffer();
    const t = compileSpec({ inputs: [{ name: 'img', image: { column: 'photo', width: 2, height: 2, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } }] });
    const out = (await t.row({ photo: png })).img as Float32Array;
    expect(Array.from(out)).toEqual([1, -1, -1, 1, -1, 1, -1, 1, -1, -1, 1, 1]);
    const b = await t.batch({ photo: [png, Buffer.from('not an image')] }, 2);
    expect(b.failed.get(1)).toMatch(/^image photo: cannot decode \(/);
    expect(Array.from((b.tensors.img as Float32Array).subarray(0, 12))).toEqual(Array.from(out));
  });
});

describe('freezing a spec from a dataset version', () => {
  it('takes mean, population std and a vocabulary by frequency from the data', async () => {
    const m = await fx.dataset('d', `SELECT * FROM (VALUES (1.0, 'b'), (2.0, 'a'), (3.0, 'b'), (6.0, 'c'), ('NaN'::DOUBLE, 'b')) t(x, c)`);
    const spec = FeatureSpecSchema.parse({ inputs: [{ name: 'x', features: [{ number: 'x', fill: 0, standardize: true }, { category: 'c', vocab: { max_size: 2 } }] }] });
    const frozen = await freezeSpec(spec, await fx.project.duck(), fx.project.dataDir, m);
    expect(frozen.frozen_from).toBe('d@1');
    const f = (frozen.inputs[0] as { features: unknown[] }).features;
    expect(f[0]).toEqual({ number: 'x', fill: 0, standardize: { mean: 3, std: Math.sqrt(3.5) } });
    expect(f[1]).toEqual({ category: 'c', vocab: ['b', 'a'], encode: 'id' });
  });
});
