// Hard-example mining picks exactly the expected rows of a 12-row pool. The model is an MLP whose
// output is its input feature p (weights 1, biases 0, ReLU, no activation), so every pick is known
// by hand: hard negatives, hard positives, highest loss, margin and entropy, caps, the threshold,
// exclusion of training rows (by _id and by a key column), and review items in score order.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanSql } from '../../src/core/dataset.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import { mine } from '../../src/mine/plan.ts';
import { encodeModel, mlpModel } from '../../src/model/onnx/build.ts';
import { addModel } from '../../src/model/registry.ts';
import { openReviewStore } from '../../src/review/store.ts';
import { type Fixture, fixture } from '../model/fixture.ts';

//            k:   0     1     2     3     4     5     6     7     8     9     10    11
const P = [0.95, 0.9, 0.8, 0.3, 0.1, 0.04, 0.2, 0.6, 0.99, 0.5, 0.45, 0.58];
const Y = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0];
const POOL = `SELECT * FROM (VALUES ${P.map((p, k) => `(${k}, ${p}::FLOAT, ${Y[k]})`).join(', ')}) t(k, p, label)`;

let fx: Fixture;
beforeEach(async () => {
  fx = await fixture();
  await fx.dataset('pool', POOL);
  const identity = { w1: Float32Array.of(1), b1: Float32Array.of(0), w2: Float32Array.of(1), b2: Float32Array.of(0), sizes: [1, 1, 1] as [number, number, number] };
  await addModel(fx.project, { file: fx.onnxFile('p.onnx', encodeModel(mlpModel(identity, { input: 'x', output: 'y' }, 'none'))), name: 'm', features: { inputs: [{ name: 'x', features: [{ number: 'p' }] }] } });
});
afterEach(async () => fx.close());

async function rows(m: Manifest): Promise<{ k: number; mined_by: string | null; mine_score: number | null }[]> {
  const duck = await fx.project.duck();
  return duck.all(`SELECT k::INT AS k, mined_by, mine_score FROM (${scanSql(fx.project.dataDir, m)})`);
}
const ks = async (m: Manifest) => (await rows(m)).map((r) => r.k);
const run = (o: Partial<Parameters<typeof mine>[1]>) => mine(fx.project, { model: 'm@1', data: 'pool@1', strategy: 'hard-negatives', count: 3, ...o }, fx.runner);

describe('mine', () => {
  it('picks the negatives with the highest positive score, with mined_by and mine_score', async () => {
    const r = await run({ strategy: 'hard-negatives', count: 3 });
    expect(r.manifest.dataset).toBe('pool-mined');
    expect(r.picked).toBe(3);
    const got = await rows(r.manifest);
    expect(got.map((x) => x.k)).toEqual([0, 1, 2]);
    expect(got.map((x) => x.mined_by)).toEqual(['m@1 hard-negatives', 'm@1 hard-negatives', 'm@1 hard-negatives']);
    expect(got.map((x) => x.mine_score)).toEqual([Math.fround(0.95), Math.fround(0.9), Math.fround(0.8)]);
    expect(r.manifest.parents).toEqual(['pool@1']);
    expect(r.manifest.operation).toBe('mine');
  });

  it('picks the positives the model misses', async () => {
    expect(await ks((await run({ strategy: 'hard-positives', count: 2 })).manifest)).toEqual([5, 6]);
  });

  it('picks the highest log loss, and caps it per class', async () => {
    expect(await ks((await run({ strategy: 'highest-loss', count: 3 })).manifest)).toEqual([5, 0, 1]);
    expect(await ks((await run({ strategy: 'highest-loss', count: 3, capPerClass: 1, into: 'capped' })).manifest)).toEqual([5, 0]);
  });

  it('picks the most uncertain rows by margin and by entropy', async () => {
    expect(await ks((await run({ strategy: 'margin', count: 3, into: 'by-margin' })).manifest)).toEqual([9, 10, 11]);
    expect(await ks((await run({ strategy: 'entropy', count: 2, into: 'by-entropy' })).manifest)).toEqual([9, 10]);
    expect(await ks((await run({ strategy: 'entropy', count: 3, capPerClass: 1, into: 'by-entropy-capped' })).manifest)).toEqual([9, 10]);
  });

  it('keeps only picks whose mine_score reaches the threshold', async () => {
    expect(await ks((await run({ strategy: 'hard-negatives', count: 5, threshold: 0.85 })).manifest)).toEqual([0, 1]);
  });

  it('never picks rows already in the training set, by _id and by key, and appends to it', async () => {
    const first = await run({ strategy: 'hard-negatives', count: 1, into: 'train' });
    expect(await ks(first.manifest)).toEqual([0]);
    const second = await run({ strategy: 'hard-negatives', count: 2, exclude: 'train@1' });
    expect(second.manifest.dataset).toBe('train');
    expect(second.manifest.version).toBe(2);
    expect((await ks(second.manifest)).sort()).toEqual([0, 1, 2]);
    expect(second.manifest.parents).toEqual(['pool@1', 'train@1']);
    await fx.dataset('seen', 'SELECT 1 AS k, 0 AS label');
    const third = await run({ strategy: 'hard-negatives', count: 2, exclude: 'seen@1', key: 'k', into: 'fresh' });
    expect(await ks(third.manifest)).toEqual([0, 2]);
  });

  it('with review, queues the picks as label items in score order', async () => {
    const r = await run({ strategy: 'hard-negatives', count: 3, review: true });
    expect(r.reviewItems).toBe(3);
    const store = await openReviewStore(fx.project);
    try {
      const items = await store.list({ dataset: 'pool-mined' });
      expect(items.map((i) => [i.record.k, i.kind, i.label_field])).toEqual([
        [0, 'label', 'label'],
        [1, 'label', 'label'],
        [2, 'label', 'label'],
      ]);
      expect(items.map((i) => i.priority)).toEqual([Math.fround(0.95), Math.fround(0.9), Math.fround(0.8)]);
      expect(items[0]!.routed_in).toBe(`pool-mined@${r.manifest.version}`);
    } finally {
      await store.close();
    }
  });

  it('returns the committed version for a rerun of the same request, and never picks a row the output already has', async () => {
    const first = await run({ strategy: 'hard-negatives', count: 2 });
    const again = await run({ strategy: 'hard-negatives', count: 2 });
    expect([again.manifest.version, again.picked]).toEqual([first.manifest.version, 2]);
    const more = await run({ strategy: 'hard-negatives', count: 3 });
    expect(more.manifest.version).toBe(2);
    expect(await ks(more.manifest)).toEqual([0, 1, 2, 11, 10]);
    const reviewed = await run({ strategy: 'hard-negatives', count: 1, review: true, into: 'to-label' });
    const rerun = await run({ strategy: 'hard-negatives', count: 1, review: true, into: 'to-label' });
    expect([reviewed.reviewItems, rerun.reviewItems, rerun.manifest.version]).toEqual([1, 0, 1]);
  });

  it('refuses bad input with a message that says what to fix', async () => {
    await expect(run({ model: 'nope@1' })).rejects.toThrow(/no model "nope"/);
    await expect(run({ label: 'clicked' })).rejects.toThrow(/no column "clicked"/);
    await expect(run({ count: 0 })).rejects.toThrow(/≥ 1, got 0/);
    await expect(run({ key: 'k' })).rejects.toThrow(/give --exclude/);
  });
});
