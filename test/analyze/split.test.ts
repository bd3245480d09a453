// Splits: group-disjoint, stratified within one point, by time with no row after its cutoff,
// deterministic for a seed, and stored as named versions over the same parts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRatios, splitVersion } from '../../src/analyze/split.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { parseRef } from '../../src/core/ref.ts';
import { UsageError } from '../../src/core/errors.ts';
import { fixture, type Fixture } from './fixture.ts';

let f: Fixture;
const rows = async <T>(ref: string, sql: string): Promise<T[]> => {
  const m = await f.project.catalog.resolve(parseRef(ref));
  return (await f.project.duck()).all<T>(sql.replace('$T', `(${scanSql(f.project.dataDir, m)})`));
};

// 3000 users with 1–5 events each; 1 in 10 users converts; events run over 100 days
const EVENTS = `SELECT u AS user_id, (u % 10 = 0)::INTEGER AS label, e AS n, DATE '2024-01-01' + ((u * 7 + e * 13) % 100)::INTEGER AS day
  FROM range(3000) a(u), range(5) b(e) WHERE e <= u % 5`;

beforeAll(async () => {
  f = await fixture();
  await f.dataset('events', `SELECT * FROM (${EVENTS}) WHERE user_id < 1500`, `SELECT * FROM (${EVENTS}) WHERE user_id >= 1500`);
  await f.dataset('none', `SELECT * FROM (${EVENTS}) WHERE false`);
});
afterAll(async () => f.close());

describe('sluice split', () => {
  it('puts no group in two splits and keeps every row exactly once', async () => {
    const r = await splitVersion(f.project, 'events', { ratios: [0.8, 0.1, 0.1], group: 'user_id', seed: 7, out: 'g' });
    expect(r.splits.map((s) => s.dataset)).toEqual(['g-train', 'g-val', 'g-test']);
    expect(r.splits.reduce((n, s) => n + s.rows, 0)).toBe(9000);
    const owners = await f.project.duck().then(async (d) => {
      const rel = (ref: string) => f.project.catalog.resolve(parseRef(ref)).then((m) => scanSql(f.project.dataDir, m));
      return d.all<{ users: number; ids: number; rows: number }>(
        `SELECT count(DISTINCT user_id)::INTEGER AS users, count(DISTINCT _id)::INTEGER AS ids, count(*)::INTEGER AS rows FROM (
          SELECT user_id, _id FROM (${await rel('g-train')}) UNION ALL SELECT user_id, _id FROM (${await rel('g-val')}) UNION ALL SELECT user_id, _id FROM (${await rel('g-test')}))`,
      );
    });
    expect(owners).toEqual([{ users: 3000, ids: 9000, rows: 9000 }]);
    const shared = await rows<{ n: number }>('g-train', `SELECT count(*)::INTEGER AS n FROM $T WHERE user_id IN (SELECT user_id FROM (${scanSql(f.project.dataDir, await f.project.catalog.resolve(parseRef('g-test')))}))`);
    expect(shared).toEqual([{ n: 0 }]);
    // the split versions reuse the input's parts: only deletion files were written
    const train = await f.project.catalog.resolve(parseRef('g-train'));
    const input = await f.project.catalog.resolve(parseRef('events'));
    expect(train.parts.map((p) => p.sha256)).toEqual(input.parts.map((p) => p.sha256));
    expect(train.parts.every((p) => p.deletes !== undefined)).toBe(true);
  });

  it('gives the same splits for the same seed and different ones for another seed', async () => {
    const a = await splitVersion(f.project, 'events', { ratios: [0.5, 0.5], seed: 1, out: 's1' });
    const b = await splitVersion(f.project, 'events', { ratios: [0.5, 0.5], seed: 1, out: 's1b' });
    const c = await splitVersion(f.project, 'events', { ratios: [0.5, 0.5], seed: 2, out: 's2' });
    const ids = async (ref: string) => (await rows<{ i: string }>(ref, `SELECT _id AS i FROM $T ORDER BY 1`)).map((r) => r.i);
    expect(await ids('s1b-train')).toEqual(await ids('s1-train'));
    expect(await ids('s2-train')).not.toEqual(await ids('s1-train'));
    expect([a.splits[0]!.rows, b.splits[0]!.rows]).toEqual([b.splits[0]!.rows, a.splits[0]!.rows]);
    expect(c.splits.map((s) => s.name)).toEqual(['train', 'test']);
  });

  it('keeps each class share within one point of the whole in every split when stratified', async () => {
    const r = await splitVersion(f.project, 'events', { ratios: [0.8, 0.1, 0.1], stratify: 'label', seed: 3, out: 'st' });
    const whole = (await rows<{ p: number }>('events', `SELECT avg(label)::DOUBLE AS p FROM $T`))[0]!.p;
    for (const s of r.splits) {
      const share = (s.strata!['1'] ?? 0) / s.rows;
      expect(Math.abs(share - whole)).toBeLessThan(0.01);
    }
    // per class, each split takes round(cum·n) − round(prev·n) rows: 300 positives → 240 / 30 / 30
    expect(r.splits.map((s) => s.strata!['1'])).toEqual([240, 30, 30]);
    expect(r.splits.map((s) => s.rows)).toEqual([7200, 900, 900]);
  });

  it('keeps groups whole and classes within one point when grouped and stratified', async () => {
    const r = await splitVersion(f.project, 'events', { ratios: [0.8, 0.2], group: 'user_id', stratify: 'label', seed: 5, out: 'gs' });
    const whole = 300 / 9000;
    for (const s of r.splits) expect(Math.abs((s.strata!['1'] ?? 0) / s.rows - whole)).toBeLessThan(0.01);
    const both = await rows<{ n: number }>('gs-train', `SELECT count(*)::INTEGER AS n FROM $T WHERE user_id IN (SELECT user_id FROM (${scanSql(f.project.dataDir, await f.project.catalog.resolve(parseRef('gs-test')))}))`);
    expect(both).toEqual([{ n: 0 }]);
  });

  it('splits by time with no row at or after its cutoff in training', async () => {
    const r = await splitVersion(f.project, 'events', { byTime: 'day', cutoffs: ['2024-03-01', '2024-03-21'], out: 't' });
    const range = async (ref: string) => (await rows<{ lo: string; hi: string }>(ref, `SELECT min(day)::VARCHAR AS lo, max(day)::VARCHAR AS hi FROM $T`))[0];
    expect(await range('t-train')).toEqual({ lo: '2024-01-01', hi: '2024-02-29' });
    expect(await range('t-val')).toEqual({ lo: '2024-03-01', hi: '2024-03-20' });
    expect(await range('t-test')).toEqual({ lo: '2024-03-21', hi: '2024-04-09' });
    expect(r.splits.reduce((n, s) => n + s.rows, 0)).toBe(9000);
  });

  it('rejects ratios that do not sum to 1, unknown columns and unsorted cutoffs, naming the value', async () => {
    expect(() => parseRatios('0.8,0.1,0.2')).toThrow('--ratios "0.8,0.1,0.2" sum to 1.1, not 1');
    expect(() => parseRatios('0.8,-0.1,0.3')).toThrow(UsageError);
    await expect(splitVersion(f.project, 'events', { ratios: [0.5, 0.5], group: 'account' })).rejects.toThrow('--group column "account" is not in events@1');
    await expect(splitVersion(f.project, 'events', { byTime: 'day', cutoffs: ['2024-03-01', '2024-02-01'] })).rejects.toThrow('--cutoffs must increase: 2024-03-01 is not before 2024-02-01');
    await expect(splitVersion(f.project, 'none', { ratios: [0.5, 0.5] })).rejects.toThrow('none@1 has no rows');
  });
});
