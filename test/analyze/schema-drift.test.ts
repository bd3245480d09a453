// Schema anomalies (TFDV-style) and drift (PSI, Jensen–Shannon, L∞) on hand-computed fixtures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeStats } from '../../src/analyze/stats.ts';
import { inferSchema, validateSchema } from '../../src/analyze/schema.ts';
import { computeDrift, jsDistance, linf, psi } from '../../src/analyze/drift.ts';
import { parseRef } from '../../src/core/ref.ts';
import { fixture, type Fixture } from './fixture.ts';

let f: Fixture;
const get = (ref: string) => f.project.catalog.resolve(parseRef(ref));

beforeAll(async () => {
  f = await fixture();
  // train: x = 0..99, cat half a / half b; serving: x = 0..49 twice, cat a 80% b 10% c 10%
  await f.dataset('train', `SELECT i::DOUBLE AS x, CASE WHEN i < 50 THEN 'a' ELSE 'b' END AS cat, i::INTEGER AS age FROM range(100) r(i)`);
  await f.dataset(
    'serving',
    `SELECT (i % 50)::DOUBLE AS x, CASE WHEN i < 80 THEN 'a' WHEN i < 90 THEN 'b' ELSE 'c' END AS cat,
       CASE WHEN i % 25 = 0 THEN NULL ELSE i + 50 END::INTEGER AS age, 'web' AS channel FROM range(100) r(i)`,
  );
});
afterAll(async () => f.close());

describe('drift', () => {
  it('computes PSI and Jensen–Shannon distance on the reference deciles, as worked out by hand', async () => {
    const d = await computeDrift(f.project, await get('train'), await get('serving'));
    const x = d.features.find((g) => g.name === 'x')!;
    // deciles of 0..99 put 10% of train in each bin; serving puts 20% in each of the first five
    expect(x.bins.map((b) => b.a)).toEqual(Array.from({ length: 10 }, () => 0.1));
    expect(x.bins.map((b) => b.b)).toEqual([0.2, 0.2, 0.2, 0.2, 0.2, 0, 0, 0, 0, 0]);
    // PSI = 5·0.1·ln 2 + 5·(0.1 − 1e-4)·ln(0.1/1e-4) = 0.346574 + 3.450426
    expect(x.psi).toBeCloseTo(3.797, 3);
    // JS (log2): ½(KL(p‖m) + KL(q‖m)) = ½(0.207519 + 0.415037); distance = √0.311278
    expect(x.js).toBeCloseTo(0.557923, 5);
    expect(x.drifted).toBe(true);
    expect(x.reasons).toEqual(['PSI 3.797 > 0.2', 'JS distance 0.558 > 0.1']);
  });

  it('computes L-infinity for categories and turns it into an anomaly past the threshold', async () => {
    const d = await computeDrift(f.project, await get('train'), await get('serving'));
    const cat = d.features.find((g) => g.name === 'cat')!;
    expect(cat.linf).toBeCloseTo(0.4, 12);
    expect(cat.worst).toBe('b');
    expect(cat.reasons).toEqual(['L∞ 0.400 > 0.1 (at "b")']);
    const loose = await computeDrift(f.project, await get('train'), await get('serving'), { thresholds: { linf: 0.5 } });
    expect(loose.features.find((g) => g.name === 'cat')!.drifted).toBe(false);
    expect(d.missing).toEqual([{ column: 'channel', in: 'serving@1' }]);
  });

  it('finds no drift between a version and itself', async () => {
    const d = await computeDrift(f.project, await get('train'), await get('train'));
    expect(d.features.map((g) => [g.name, g.psi ?? g.linf, g.drifted])).toEqual([['x', 0, false], ['cat', 0, false], ['age', 0, false]]);
  });

  it('has the textbook values on small vectors', () => {
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(jsDistance([1, 0], [0, 1])).toBe(1);
    expect(linf(new Map([['a', 0.7], ['b', 0.3]]), new Map([['a', 0.2], ['c', 0.8]]))).toEqual({ distance: 0.8, worst: 'c' });
  });
});

describe('schema infer and validate', () => {
  it('infers types, presence, domains and ranges from a version', async () => {
    const s = inferSchema(await computeStats(f.project, 'train'));
    expect(s.features).toEqual([
      { name: 'x', type: 'DOUBLE', presence: { minFraction: 1, required: true }, range: { min: 0, max: 99 } },
      { name: 'cat', type: 'VARCHAR', presence: { minFraction: 1, required: true }, domain: ['a', 'b'] },
      { name: 'age', type: 'INTEGER', presence: { minFraction: 1, required: true }, range: { min: 0, max: 99 } },
    ]);
  });

  it('lists new category values, out-of-range values, missing presence, type changes and new columns', async () => {
    const s = inferSchema(await computeStats(f.project, 'train'));
    s.features[0]!.type = 'FLOAT';
    s.features.push({ name: 'gone', type: 'VARCHAR', presence: { minFraction: 1, required: true } });
    const anomalies = await validateSchema(f.project, await get('serving'), s);
    expect(anomalies.map((a) => [a.column, a.kind, a.rows ?? null])).toEqual([
      ['x', 'TYPE_CHANGE', null],
      ['cat', 'NEW_VALUES', 10],
      ['age', 'PRESENCE', 4],
      ['age', 'OUT_OF_RANGE', 48],
      ['gone', 'MISSING_COLUMN', null],
      ['channel', 'NEW_COLUMN', null],
    ]);
    expect(anomalies[1]!.message).toBe('column cat has 1 value(s) not in its domain (10 rows): "c"');
    expect(anomalies[3]!.message).toBe('column age has 48 value(s) outside [0, 99]');
  });

  it('finds no anomaly in the version the schema came from', async () => {
    const s = inferSchema(await computeStats(f.project, 'train'));
    expect(await validateSchema(f.project, await get('train'), s)).toEqual([]);
  });
});
