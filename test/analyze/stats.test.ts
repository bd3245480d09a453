// Stats of a version: exact moments, quantiles, histograms, top-k and class balance, merged across parts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeStats } from '../../src/analyze/stats.ts';
import { calibrate, labelStats } from '../../src/analyze/balance.ts';
import { InputError } from '../../src/core/errors.ts';
import { fixture, type Fixture } from './fixture.ts';

const ROWS = `SELECT i::INTEGER AS n, (i % 3 = 0) AS flag, CASE WHEN i % 10 = 0 THEN NULL ELSE 'c' || (i % 4) END AS cat,
  (i * 0.5)::DOUBLE AS x, [1, 2] AS pair, (i % 7 = 0)::INTEGER AS label FROM range(100) r(i)`;
const where = (cond: string) => `SELECT * FROM (${ROWS}) WHERE ${cond}`;

let f: Fixture;
beforeAll(async () => {
  f = await fixture();
  await f.dataset('one', ROWS);
  await f.dataset('two', where('n < 50'), where('n >= 50'));
  await f.dataset('empty', where('false'));
  const WIDE = `SELECT i, CASE WHEN i < 1200 THEN 'hot' || (i % 3) ELSE 'u' || (i // 2) END AS v FROM range(6000) r(i)`;
  await f.dataset('wide', WIDE);
  await f.dataset('wide2', `SELECT * FROM (${WIDE}) WHERE i % 2 = 0`, `SELECT * FROM (${WIDE}) WHERE i % 2 = 1`);
});
afterAll(async () => f.close());

describe('sluice stats', () => {
  it('computes count, missing, distinct, min, max, mean, std, zeros and exact quantiles of a number column', async () => {
    const s = await computeStats(f.project, 'one');
    const n = s.columns.find((c) => c.name === 'n')!;
    expect(s.rows).toBe(100);
    expect(s.tasks).toBe(1);
    expect([n.count, n.missing, n.distinct, n.distinctExact, n.min, n.max, n.mean, n.zeros]).toEqual([100, 0, 100, true, 0, 99, 49.5, 1]);
    expect(n.std).toBeCloseTo(Math.sqrt((100 * 101) / 12), 9);
    expect(n.quantilesExact).toBe(true);
    expect(n.quantiles).toEqual({ p1: 0.99, p5: 4.95, p25: 24.75, p50: 49.5, p75: 74.25, p95: 94.05, p99: 98.01 });
    expect(n.histogram!.counts).toEqual(Array.from({ length: 20 }, () => 5));
    expect(n.histogram!.edges[0]).toBe(-0.5);
    expect(n.histogram!.edges[20]).toBe(99.5);
  });

  it('counts categories exactly, with missing values, top-k and string lengths', async () => {
    const s = await computeStats(f.project, 'one', { topK: 3 });
    const cat = s.columns.find((c) => c.name === 'cat')!;
    expect([cat.count, cat.missing, cat.distinct]).toEqual([90, 10, 4]);
    expect(cat.values).toEqual({ c0: 20, c1: 25, c2: 20, c3: 25 });
    expect(cat.top).toEqual([{ value: 'c1', count: 25 }, { value: 'c3', count: 25 }, { value: 'c0', count: 20 }]);
    expect(cat.length).toEqual({ min: 2, max: 2, mean: 2 });
    const flag = s.columns.find((c) => c.name === 'flag')!;
    expect([flag.trues, flag.values]).toEqual([34, { false: 66, true: 34 }]);
    const pair = s.columns.find((c) => c.name === 'pair')!;
    expect([pair.kind, pair.count, pair.length]).toEqual(['list', 100, { min: 2, max: 2, mean: 2 }]);
  });

  it('merges two parts into the same moments, histogram and value counts as one part', async () => {
    const one = await computeStats(f.project, 'one');
    const two = await computeStats(f.project, 'two');
    expect(two.tasks).toBe(2);
    for (const name of ['n', 'x', 'cat', 'flag']) {
      const a = one.columns.find((c) => c.name === name)!;
      const b = two.columns.find((c) => c.name === name)!;
      expect([b.count, b.missing, b.distinct, b.min, b.max, b.zeros, b.values, b.histogram]).toEqual([a.count, a.missing, a.distinct, a.min, a.max, a.zeros, a.values, a.histogram]);
      if (a.mean !== null) expect(b.mean).toBeCloseTo(a.mean, 9);
      if (a.std !== null) expect(b.std).toBeCloseTo(a.std, 9);
    }
    const n = two.columns.find((c) => c.name === 'n')!;
    // across parts, quantiles come from the merged fine histogram (1-wide bins for these integers)
    expect(n.quantilesExact).toBe(false);
    expect(n.quantiles).toEqual({ p1: 0, p5: 4, p25: 24, p50: 49, p75: 74, p95: 94, p99: 98 });
  });

  it('counts the top values of a high-cardinality column; distinct is exact on one part and within 5% across parts', async () => {
    for (const ref of ['wide', 'wide2']) {
      const v = (await computeStats(f.project, ref, { topK: 4 })).columns.find((c) => c.name === 'v')!;
      expect(v.values).toBeNull();
      expect(v.top!.slice(0, 3)).toEqual([{ value: 'hot0', count: 400 }, { value: 'hot1', count: 400 }, { value: 'hot2', count: 400 }]);
      expect(v.top![3]!.count).toBe(2);
      if (ref === 'wide') expect([v.distinct, v.distinctExact]).toEqual([2403, true]);
      else expect([Math.abs(v.distinct! - 2403) / 2403 < 0.05, v.distinctExact]).toEqual([true, false]);
    }
  });

  it('skips top values of a near-unique column on one part and estimates its distinct count', async () => {
    await f.dataset('ids', `SELECT 'id' || i AS id FROM range(5000) r(i)`);
    const id = (await computeStats(f.project, 'ids')).columns[0]!;
    expect([id.top, id.values, id.distinctExact]).toEqual([null, null, false]);
    expect(Math.abs(id.distinct! - 5000) / 5000).toBeLessThan(0.25);
  });

  it('reports class counts, imbalance, class weights and a suggested resampling for the label', async () => {
    const s = await computeStats(f.project, 'one', { label: 'label' });
    expect(s.label!.classes).toEqual([{ value: '0', count: 85, share: 0.85 }, { value: '1', count: 15, share: 0.15 }]);
    expect(s.label!.imbalanceRatio).toBeCloseTo(85 / 15, 12);
    expect(s.label!.weights.inverse['1']).toBeCloseTo(100 / (2 * 15), 12);
    expect(s.label!.suggestion.method).toBe('weights');
  });

  it('weighs classes by inverse frequency and by effective number of samples', () => {
    const l = labelStats('y', { a: 90, b: 10 });
    expect(l.weights.inverse).toEqual({ a: 100 / 180, b: 5 });
    // by hand: 1/E_n = 0.001 / (1 - 0.999^n): a → 0.0116130, b → 0.1004520; scaled to sum to 2
    expect(l.weights.effective.a).toBeCloseTo(0.20726, 4);
    expect(l.weights.effective.b).toBeCloseTo(1.79274, 4);
    expect(labelStats('y', { a: 990, b: 10 }).suggestion.args).toEqual(['--label', 'y', '--oversample', '0.2']);
  });

  it('calibrates a score from 4× oversampled positives back to the true rate', () => {
    expect(calibrate(0.5, { '1': 4, '0': 1 }, '1')).toBeCloseTo(0.2, 12);
  });

  it('fails naming the column when the label does not exist, cannot hold classes, or the dataset is empty', async () => {
    await expect(computeStats(f.project, 'one', { label: 'nope' })).rejects.toThrow(/label column "nope" is not in one@1/);
    await expect(computeStats(f.project, 'one', { label: 'x' })).rejects.toThrow(/label column "x" has type DOUBLE, which cannot hold classes/);
    await expect(computeStats(f.project, 'one', { label: 'pair' })).rejects.toThrow(InputError);
    await expect(computeStats(f.project, 'empty')).rejects.toThrow(/empty@1 has no rows/);
  });
});
