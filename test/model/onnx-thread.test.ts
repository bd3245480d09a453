// ONNX Runtime on a worker thread (the score stage's model thread): two jobs queued at once, each a
// set of shared base rows run against several variants (values written at fixed positions of
// every row), give exactly the JS reference MLP's outputs; a file that is no model is an InputError.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { sha256File } from '../../src/core/hash.ts';
import { OnnxThread } from '../../src/model/backends/onnx-thread.ts';
import { type Fixture, dyadicMlp, fixture, linearMlpFile, referenceMlp } from './fixture.ts';

const W = dyadicMlp([32, 64, 1]);
const ROWS = 50;
const row = (r: number, k: number) => ((((r * 32 + k) * 5) % 11) - 5) / 4;

let fx: Fixture;
beforeEach(async () => {
  fx = await fixture();
});
afterEach(async () => fx.close());

describe('ONNX Runtime on its own thread', () => {
  it('runs queued jobs of base rows × variants exactly as the JS reference MLP does', async () => {
    const file = linearMlpFile(fx, W);
    const thread = await OnnxThread.open(file, await sha256File(file), 1);
    const variants = [
      [{ offsets: [3, 17], values: [0.5, -1.25] }],
      [{ offsets: [0, 1, 2, 3, 4, 5, 6, 7, 31], values: [1, 2, 3, 4, 5, 6, 7, 8, -2] }],
      [null],
    ];
    const slots = thread.slots([{ name: 'x', type: 'float32', rowShape: [32] }], 'y', 1, 64, 2, 3, variants);
    // Set 0 holds rows 0…49, set 1 rows 50…89 (40 rows); both jobs are queued before either is read.
    const bases = [0, 1].map((set) => {
      const n = set ? 40 : ROWS;
      const base = Float32Array.from({ length: n * 32 }, (_, k) => row(set * ROWS + Math.floor(k / 32), k % 32));
      (slots.base[set]![0] as Float32Array).set(base);
      return { n, base };
    });
    const jobs = [slots.run(0, ROWS, [0, 1, 2]), slots.run(1, 40, [2, 0])];
    const outs = await Promise.all(jobs);
    const expected = (set: number, v: number) => {
      const { n, base } = bases[set]!;
      return Array.from({ length: n }, (_, r) => {
        const x = base.slice(r * 32, (r + 1) * 32);
        const f = variants[v]![0];
        if (f) f.offsets.forEach((o, j) => (x[o] = f.values[j]!));
        return referenceMlp(W, x)[0]!;
      });
    };
    expect(outs[0]!.map((y) => Array.from(y))).toEqual([0, 1, 2].map((v) => expected(0, v)));
    expect(outs[1]!.map((y) => Array.from(y))).toEqual([2, 0].map((v) => expected(1, v)));
    slots.close();
  });

  it('names the file ONNX Runtime cannot load', async () => {
    const file = join(fx.dir, 'not-a-model.onnx');
    writeFileSync(file, 'not a model');
    const err = await OnnxThread.open(file, 'deadbeef', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^ONNX Runtime cannot load .*not-a-model\.onnx: /);
  });
});
