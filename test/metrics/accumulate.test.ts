// The incremental accumulator on SQLite and PostgreSQL: idempotent DDL, additive upserts across
// transactions, slices from the configured fields, and a rolled-back emit leaves no trace.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteDb } from '../../src/store/sqlite.ts';
import { PostgresDb } from '../../src/store/postgres.ts';
import type { SqlDb } from '../../src/store/sql.ts';
import { accumulateMetrics, ensureMetricsSchema } from '../../src/feedback/metrics/accumulate.ts';
import { example } from './examples.ts';

const url = process.env.SLUICE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `t_${randomBytes(6).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-acc-'));
afterAll(async () => {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

const backends: [string, () => SqlDb][] = [
  ['SQLite', () => new SqliteDb(join(dir, 'feedback.db'))],
  ['PostgreSQL', () => new PostgresDb(url, schema)],
];

describe.each(backends)('the metrics accumulator on %s', (_name, open) => {
  it('adds examples of two transactions into one cell per model, version, arm, hour and slice value', async () => {
    const db = open();
    try {
      await ensureMetricsSchema(db, { slices: ['country'] });
      await ensureMetricsSchema(db); // idempotent, keeps the slices
      const h = Date.UTC(2026, 0, 5, 10);
      await db.transaction((tx) => accumulateMetrics(tx, [example({ score: 0.8, label: 1, at: h + 60_000, fields: { country: 'de' } }), example({ score: 0.2, label: 0, at: h + 120_000, fields: { country: 'fr' } })]));
      await db.transaction((tx) => accumulateMetrics(tx, [example({ score: 0.6, label: 0, at: h + 180_000, fields: { country: 'de' }, picked: 2, shown: 5 })]));
      await expect(db.transaction(async (tx) => {
        await accumulateMetrics(tx, [example({ score: 0.5, label: 1, at: h })]);
        throw new Error('emit failed');
      })).rejects.toThrow('emit failed');
      const cells = await db.all<{ slice_field: string; slice_value: string; n: number; pos: number; sum_score: number; sum_ll: number; ranked: number }>(
        'SELECT slice_field, slice_value, n, pos, sum_score, sum_ll, ranked FROM metrics_cells WHERE bucket = ? ORDER BY slice_field, slice_value',
        [h],
      );
      expect(cells.map((c) => [c.slice_field, c.slice_value, Number(c.n), Number(c.pos), Number(c.ranked)])).toEqual([
        ['*', '', 3, 1, 1],
        ['country', 'de', 2, 1, 1],
        ['country', 'fr', 1, 0, 0],
      ]);
      expect(Number(cells[0]!.sum_score)).toBeCloseTo(1.6, 12);
      expect(Number(cells[0]!.sum_ll)).toBeCloseTo(-Math.log(0.8) - Math.log(0.8) - Math.log(0.4), 12);
      const bins = await db.all<{ bin: number; n: number; pos: number }>("SELECT bin, n, pos FROM metrics_bins WHERE slice_field = '*' ORDER BY bin");
      expect(bins.map((b) => [Number(b.bin), Number(b.n), Number(b.pos)])).toEqual([[20, 1, 0], [60, 1, 0], [80, 1, 1]]);
      const picks = await db.all<{ picked: number; n: number }>("SELECT picked, n FROM metrics_positions WHERE slice_field = '*'");
      expect(picks.map((p) => [Number(p.picked), Number(p.n)])).toEqual([[2, 1]]);
    } finally {
      await db.close();
    }
  });
});
