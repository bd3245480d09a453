// Rebalancing: exact class counts for a seed, a weight column, and the sampling rates a trainer
// uses to calibrate scores back, recorded in the new version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebalanceVersion, targets } from '../../src/analyze/rebalance.ts';
import { calibrate } from '../../src/analyze/balance.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { parseRef } from '../../src/core/ref.ts';
import { fixture, type Fixture } from './fixture.ts';

let f: Fixture;
const q = async <T>(ref: string, sql: string): Promise<T[]> => {
  const m = await f.project.catalog.resolve(parseRef(ref));
  return (await f.project.duck()).all<T>(sql.replace('$T', `(${scanSql(f.project.dataDir, m)})`));
};
const classCounts = async (ref: string) =>
  Object.fromEntries((await q<{ y: string; n: number }>(ref, `SELECT y, count(*)::INTEGER AS n FROM $T GROUP BY y ORDER BY y`)).map((r) => [r.y, r.n]));

// 1000 rows in two parts: 100 'pos', 900 'neg'
const ROWS = `SELECT i AS k, CASE WHEN i % 10 = 0 THEN 'pos' ELSE 'neg' END AS y FROM range(1000) r(i)`;

beforeAll(async () => {
  f = await fixture();
  await f.dataset('ads', `SELECT * FROM (${ROWS}) WHERE k < 600`, `SELECT * FROM (${ROWS}) WHERE k >= 600`);
  await f.dataset('unlabeled', `SELECT i AS k, CASE WHEN i < 5 THEN NULL ELSE 'a' END AS y FROM range(10) r(i)`);
});
afterAll(async () => f.close());

describe('sluice rebalance', () => {
  it('computes targets: oversampling grows to r × the largest, undersampling cuts to the smallest / r', () => {
    expect(targets({ neg: 900, pos: 100 }, 'oversample', 0.5)).toEqual({ neg: 900, pos: 450 });
    expect(targets({ neg: 900, pos: 100 }, 'undersample', 0.5)).toEqual({ neg: 200, pos: 100 });
  });

  it('oversamples the minority with whole copies plus a seeded remainder, and records the rates', async () => {
    const m = await rebalanceVersion(f.project, 'ads', { label: 'y', oversample: 0.5, seed: 1, out: 'ads-over' });
    expect(m.rows).toBe(1350);
    expect(await classCounts('ads-over')).toEqual({ neg: 900, pos: 450 });
    // 350 extra = 3 copies of every positive + one more of 50 of them: each appears 4 or 5 times
    expect(await q(`ads-over`, `SELECT c, count(*)::INTEGER AS ids FROM (SELECT _id, count(*)::INTEGER AS c FROM $T WHERE y = 'pos' GROUP BY _id) GROUP BY c ORDER BY c`)).toEqual([
      { c: 4, ids: 50 },
      { c: 5, ids: 50 },
    ]);
    expect(m.extra!.rebalance).toMatchObject({ method: 'oversample', before: { neg: 900, pos: 100 }, after: { neg: 900, pos: 450 }, rates: { neg: 1, pos: 4.5 } });
    // the original parts are shared; the copies sit in one extra part
    expect(m.parts.length).toBe(3);
    const rates = (m.extra!.rebalance as { rates: Record<string, number> }).rates;
    expect(calibrate(0.5, rates, 'pos')).toBeCloseTo(1 / 5.5, 12);
  });

  it('undersamples the majority to exact counts, the same rows for the same seed', async () => {
    const a = await rebalanceVersion(f.project, 'ads', { label: 'y', undersample: 0.5, seed: 1, out: 'under-a' });
    await rebalanceVersion(f.project, 'ads', { label: 'y', undersample: 0.5, seed: 1, out: 'under-b' });
    await rebalanceVersion(f.project, 'ads', { label: 'y', undersample: 0.5, seed: 2, out: 'under-c' });
    expect(a.rows).toBe(300);
    expect(await classCounts('under-a')).toEqual({ neg: 200, pos: 100 });
    const ids = async (ref: string) => (await q<{ i: string }>(ref, `SELECT _id AS i FROM $T ORDER BY 1`)).map((r) => r.i);
    expect(await ids('under-b')).toEqual(await ids('under-a'));
    expect(await ids('under-c')).not.toEqual(await ids('under-a'));
    expect(a.extra!.rebalance).toMatchObject({ rates: { neg: 200 / 900, pos: 1 } });
    expect(a.parts.every((p) => p.deletes !== undefined)).toBe(true);
  });

  it('writes a weight column of inverse class frequencies when asked for weights', async () => {
    const m = await rebalanceVersion(f.project, 'ads', { label: 'y', weights: true });
    expect(m.version).toBe(2);
    expect(m.schema.find((c) => c.name === 'weight')?.type).toBe('DOUBLE');
    const w = await q<{ y: string; w: number; total: number }>('ads@2', `SELECT y, min(weight) AS w, round(sum(weight), 9) AS total FROM $T GROUP BY y ORDER BY y`);
    expect(w).toEqual([{ y: 'neg', w: 1000 / 1800, total: 500 }, { y: 'pos', w: 5, total: 500 }]);
    expect(await q('ads@2', `SELECT count(DISTINCT _id)::INTEGER AS n FROM $T`)).toEqual([{ n: 1000 }]);
  });

  it('fails naming the label, the option or the rows when the input cannot be rebalanced', async () => {
    await expect(rebalanceVersion(f.project, 'ads', { label: 'clicked', weights: true })).rejects.toThrow('label column "clicked" is not in ads@');
    await expect(rebalanceVersion(f.project, 'ads', { label: 'y', weights: true, oversample: 0.2 })).rejects.toThrow('give exactly one of --oversample <r>, --undersample <r> or --weights');
    await expect(rebalanceVersion(f.project, 'ads', { label: 'y', oversample: 2 })).rejects.toThrow('--oversample 2: the ratio must be in (0, 1]');
    await expect(rebalanceVersion(f.project, 'unlabeled', { label: 'y', weights: true })).rejects.toThrow('label column "y" is empty in 5 rows of unlabeled@1');
  });
});
