// The benchmarks' data generator: deterministic bytes, the promised columns and types, a cache that
// is reused and never left half-written.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { impressionsCsv } from '../../bench/gen.ts';
import { DuckSession, lit } from '../../src/engine/duckdb.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'sluice-gen-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('impressionsCsv', () => {
  it('writes the same bytes for the same rows and seed, and different bytes for another seed', async () => {
    const a = await impressionsCsv(tempDir(), 1000, 7);
    const b = await impressionsCsv(tempDir(), 1000, 7);
    const c = await impressionsCsv(tempDir(), 1000, 8);
    expect(readFileSync(a.path).equals(readFileSync(b.path))).toBe(true);
    expect(readFileSync(a.path).equals(readFileSync(c.path))).toBe(false);
  });

  it('writes the promised columns, with the types DuckDB detects, one row per impression in id order', async () => {
    const f = await impressionsCsv(tempDir(), 1000);
    const duck = await DuckSession.open({ threads: 1 });
    try {
      const cols = await duck.describe(`(FROM read_csv(${lit(f.path)}))`);
      expect(cols.map((c) => `${c.name}:${c.type}`)).toEqual([
        'impression_id:BIGINT',
        'request_id:VARCHAR',
        'user_id:VARCHAR',
        'ad_id:VARCHAR',
        'campaign_id:BIGINT',
        'ts:TIMESTAMP',
        'country:VARCHAR',
        'device:VARCHAR',
        'bid:DOUBLE',
        'pctr:DOUBLE',
        'clicked:BOOLEAN',
      ]);
      const s = await duck.one<{ n: number; ordered: boolean; hex: boolean; countries: number; devices: number; clicks: number }>(`
        SELECT count(*)::INT AS n,
          bool_and(impression_id = rn - 1) AS ordered,
          bool_and(regexp_full_match(request_id, '[0-9a-f]{12}')) AS hex,
          count(DISTINCT country)::INT AS countries, count(DISTINCT device)::INT AS devices,
          sum(clicked::INT)::INT AS clicks
        FROM (SELECT *, row_number() OVER () AS rn FROM read_csv(${lit(f.path)}))`);
      expect(s).toMatchObject({ n: 1000, ordered: true, hex: true, countries: 8, devices: 4 });
      // The label is rare but present, as in real click logs: pctr 0.5–10.5% plus a point on mobile.
      expect(s.clicks).toBeGreaterThan(30);
      expect(s.clicks).toBeLessThan(100);
    } finally {
      duck.close();
    }
  });

  it('reuses a cached file and leaves no temp file behind', async () => {
    const dir = tempDir();
    const first = await impressionsCsv(dir, 500);
    const again = await impressionsCsv(dir, 500);
    expect([first.fresh, again.fresh]).toEqual([true, false]);
    expect(again.bytes).toBe(first.bytes);
    expect(readdirSync(dir)).toEqual(['impressions-500-s7-v2.csv']);
  });
});
