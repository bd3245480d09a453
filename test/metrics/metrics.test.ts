// Metrics finalized from the state equal values computed by hand; the recompute from a feedback
// version (DuckDB) equals the incremental state (SQLite); A/B intervals match published values and
// the verdict appears only when an interval excludes zero.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteDb } from '../../src/store/sqlite.ts';
import { accumulateMetrics, ensureMetricsSchema, foldExamples } from '../../src/feedback/metrics/accumulate.ts';
import { finalize, mergeState } from '../../src/feedback/metrics/finalize.ts';
import { compareArms, newcombe, wilson } from '../../src/feedback/metrics/compare.ts';
import { stateFromDataset } from '../../src/feedback/metrics/recompute.ts';
import { readState } from '../../src/feedback/metrics/read.ts';
import { summarize } from '../../src/feedback/metrics/summary.ts';
import type { FeedbackExample } from '../../src/feedback/records.ts';
import { example, generated, T0 } from './examples.ts';
import { fixture, type Fixture } from './fixture.ts';

const all = (examples: FeedbackExample[]) => finalize(mergeState(foldExamples(examples, []), () => 'all').get('all')!);

describe('metrics of a small fixture', () => {
  // positives 0.9, 0.7, 0.2; negatives 0.6, 0.3, 0.1 — each score in a bin of its own
  const pairs: [number, 0 | 1][] = [[0.9, 1], [0.7, 1], [0.6, 0], [0.3, 0], [0.2, 1], [0.1, 0]];
  const m = all(pairs.map(([score, label], i) => example({ score, label, at: T0 + i })));

  it('has AUC 7/9: of the 9 positive–negative pairs the positive scores higher in 7', () => {
    expect(m.auc).toBeCloseTo(7 / 9, 12);
  });
  it('has the mean of −ln p for positives and −ln(1−p) for negatives as log loss', () => {
    const byHand = -(Math.log(0.9) + Math.log(0.7) + Math.log(0.4) + Math.log(0.7) + Math.log(0.2) + Math.log(0.9)) / 6;
    expect(m.log_loss).toBeCloseTo(byHand, 12);
    expect(m.rate).toBe(0.5);
    expect(m.mean_predicted).toBeCloseTo(2.8 / 6, 12);
  });
  it('has ECE (|0.9−1| + |0.7−1| + |0.6−0| + |0.3−0| + |0.2−1| + |0.1−0|) / 6 when each example has its own bin', () => {
    expect(m.ece).toBeCloseTo(2.2 / 6, 12);
    expect(m.reliability.map((r) => [r.n, r.observed])).toEqual([[1, 0], [1, 1], [1, 0], [1, 0], [1, 1], [1, 1]]);
  });
  it('counts scores in one bin as ties: AUC ½ when a positive and a negative share a bin', () => {
    expect(all([example({ score: 0.501, label: 1, at: T0 }), example({ score: 0.505, label: 0, at: T0 })]).auc).toBe(0.5);
    expect(all([example({ score: 0.5, label: 1, at: T0 })]).auc).toBeNull();
  });
  it('gives the picked-position distribution and hit rate at k over ranked answers only', () => {
    const r = all([
      example({ score: 0.5, label: 1, at: T0, picked: 0, shown: 5 }),
      example({ score: 0.5, label: 1, at: T0, picked: 2, shown: 5 }),
      example({ score: 0.5, label: 1, at: T0, picked: 7, shown: 10 }),
      example({ score: 0.5, label: 0, at: T0, picked: null, shown: 5 }),
      example({ score: 0.5, label: 0, at: T0 }),
    ]);
    expect(r.ranked).toBe(4);
    expect(r.picked).toEqual({ '0': 1, '2': 1, '7': 1 });
    expect(r.hits).toEqual({ '1': 0.25, '3': 0.5, '5': 0.5, '10': 0.75 });
  });
});

describe('confidence intervals and verdicts', () => {
  it('gives the Wilson interval of 81/263 as in Newcombe (1998): 0.2553 to 0.3662', () => {
    const w = wilson(81, 263);
    expect([w.low, w.high].map((x) => +x.toFixed(4))).toEqual([0.2553, 0.3662]);
  });
  it('gives the Newcombe hybrid interval of 56/70 − 48/80 as published: 0.0524 to 0.3339', () => {
    const d = newcombe(48, 80, 56, 70);
    expect([d.diff, d.low, d.high].map((x) => +x.toFixed(4))).toEqual([0.2, 0.0524, 0.3339]);
    expect([newcombe(0, 29, 5, 56).low, newcombe(0, 29, 5, 56).high].map((x) => +x.toFixed(4))).toEqual([-0.0381, 0.1926]);
  });
  it('says which arm has the higher rate only when the rate interval excludes zero', () => {
    const mk = (pos: number, n: number) => all(Array.from({ length: n }, (_, i) => example({ score: 0.5, label: i < pos ? 1 : 0, at: T0 })));
    const sure = compareArms('A', mk(48, 80), 'B', mk(56, 70), 'click');
    expect(sure.verdicts).toEqual([`B's click rate is higher than A's by 20.00 points (60.00% → 80.00%; 95% CI 5.24 to 33.39 points).`]);
    const unsure = compareArms('A', mk(0, 29), 'B', mk(5, 56), 'click');
    expect(unsure.rate.low).toBeLessThan(0);
    expect(unsure.verdicts).toEqual([]);
  });
  it('puts a normal interval from the per-example variances around the log loss difference, with a verdict as it excludes zero', () => {
    const a = [[0.8, 1], [0.4, 0], [0.3, 1], [0.6, 0]] as [number, 0 | 1][];
    const b = [[0.9, 1], [0.2, 0], [0.7, 1], [0.1, 0], [0.6, 1]] as [number, 0 | 1][];
    const ll = (xs: [number, 0 | 1][]) => xs.map(([p, y]) => (y ? -Math.log(p) : -Math.log(1 - p)));
    const stats = (v: number[]) => {
      const mean = v.reduce((s, x) => s + x, 0) / v.length;
      return { mean, var: v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1), n: v.length };
    };
    const [sa, sb] = [stats(ll(a)), stats(ll(b))];
    const se = Math.sqrt(sa.var / sa.n + sb.var / sb.n);
    const c = compareArms('A', all(a.map(([score, label]) => example({ score, label, at: T0 }))), 'B', all(b.map(([score, label]) => example({ score, label, at: T0 }))));
    expect(c.log_loss.diff).toBeCloseTo(sb.mean - sa.mean, 12);
    expect(c.log_loss.low).toBeCloseTo(sb.mean - sa.mean - 1.959963984540054 * se, 12);
    expect(c.log_loss.high).toBeCloseTo(sb.mean - sa.mean + 1.959963984540054 * se, 12);
    // log loss: interval below zero, so a verdict; rate 2/4 vs 3/5: interval spans zero, so none
    expect(c.log_loss.high).toBeLessThan(0);
    expect(c.rate.low < 0 && c.rate.high > 0).toBe(true);
    expect(c.verdicts).toEqual([
      `B's predictions fit the outcomes better than A's: log loss lower by ${(sa.mean - sb.mean).toFixed(4)} (95% CI ${c.log_loss.low.toFixed(4)} to ${c.log_loss.high.toFixed(4)}).`,
    ]);
  });
});

describe('incremental and recomputed metrics', () => {
  let f: Fixture;
  let db: SqliteDb;
  beforeAll(async () => {
    f = await fixture();
    db = new SqliteDb(join(f.dir, 'feedback.db'));
  });
  afterAll(async () => {
    await db.close();
    await f.close();
  });

  it('agree on every figure of every version, arm, day and slice value', async () => {
    const ex = generated(3000);
    await ensureMetricsSchema(db, { slices: ['country', 'device'] });
    for (let i = 0; i < ex.length; i += 700) await db.transaction((tx) => accumulateMetrics(tx, ex.slice(i, i + 700)));
    await f.feedback(ex.slice(0, 1500));
    const m = await f.feedback(ex.slice(1500));
    expect(m.rows).toBe(3000);
    const inc = summarize(await readState(db), { source: 'incremental' });
    const rec = summarize(await stateFromDataset(await f.project.duck(), f.project.dataDir, m, ['country', 'device']), { source: 'feedback@2' });
    expect(inc.groups.map((g) => [g.version, g.arm, g.n, g.positives, g.ranked, g.picked])).toEqual(rec.groups.map((g) => [g.version, g.arm, g.n, g.positives, g.ranked, g.picked]));
    expect(inc.groups.map((g) => g.n)).toEqual([1500, 1500]);
    const numbers = (s: typeof inc) => JSON.stringify({ ...s, source: '' }, (_k, v) => (typeof v === 'number' ? +v.toPrecision(10) : v));
    expect(numbers(inc)).toBe(numbers(rec));
    expect(inc.timeline.length).toBe(2 * 4); // 3 days from 09:00 touch 4 calendar days
    expect(inc.slices.filter((s) => s.field === 'country').map((s) => s.value)).toEqual(['de', 'de', 'fr', 'fr', 'us', 'us']);
    expect(inc.comparisons.map((c) => [c.a, c.b])).toEqual([['A', 'B']]);
    // one slice field (one pass at the finest level) and none agree too
    for (const only of [['country'], []]) {
      const st = await readState(db);
      const keep = <T extends { slice_field: string }>(xs: T[]) => xs.filter((x) => x.slice_field === '*' || only.includes(x.slice_field));
      const incO = summarize({ cells: keep(st.cells), bins: keep(st.bins), positions: keep(st.positions) }, { source: '' });
      const recO = summarize(await stateFromDataset(await f.project.duck(), f.project.dataDir, m, only, {}, 86_400_000), { source: '' });
      expect(numbers(incO)).toBe(numbers(recO));
      expect(incO.slices.length).toBe(only.length ? 6 : 0);
    }
    // filtered by time, both keep the same whole hours
    const since = T0 + 36 * 3_600_000;
    const incS = summarize(await readState(db, { since }), { source: '' });
    const recS = summarize(await stateFromDataset(await f.project.duck(), f.project.dataDir, m, ['country', 'device'], { since }), { source: '' });
    expect(numbers(incS)).toBe(numbers(recS));
    expect(incS.groups[0]!.n).toBeLessThan(1500);
  });
});
