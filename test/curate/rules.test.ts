// Rules route records: quarantine (with the rule id and message), review (kept out of the version,
// written for the review queue, with severity), warn (kept, counted); ref rules check another
// dataset; counts per rule and per outcome reconcile with the input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { safeJoin } from '../../src/core/names.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline } from '../../src/curate/pipeline.ts';
import type { FileEntry } from '../../src/core/manifest.ts';
import { openReviewStore } from '../../src/review/store.ts';

let dir: string;
let project: Project;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-rules-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
  writeFileSync(join(dir, 'ads.csv'), 'ad_id\nad1\nad2\n');
  writeFileSync(
    join(dir, 'imps.csv'),
    [
      'id,ad_id,bid,country,start,end',
      '1,ad1,1.5,US,1,2', // ok
      '2,ad2,-3,US,1,2', // bid-range → quarantine
      '3,ad9,2,US,1,2', // ad-exists → quarantine
      '4,ad1,2,usa,1,2', // country-code → review (severity 5)
      '5,ad1,2,US,3,1', // start-before-end → warn (kept)
      '6,ad2,-1,usa,1,2', // bid-range (quarantine wins over review)
      '7,ad1,200,DE,1,2', // big-bid → review (severity 2)
    ].join('\n') + '\n',
  );
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rules', () => {
  it('route every record to exactly one outcome, with per-rule counts', async () => {
    const runner = new LocalRunner(await project.duck(), project.catalog);
    await curate(project, definePipeline({ target: 'ads', schema: [{ name: 'ad_id', type: 'string' }], sources: [{ name: 'cat', files: 'ads.csv' }] }), dir, runner);
    const p = definePipeline({
      target: 'imps',
      schema: [
        { name: 'id', type: 'int', nullable: false },
        { name: 'ad_id', type: 'string' },
        { name: 'bid', type: 'float' },
        { name: 'country', type: 'string' },
        { name: 'start', type: 'int' },
        { name: 'end', type: 'int' },
      ],
      sources: [{ name: 'log', files: 'imps.csv' }],
      rules: [
        { id: 'bid-range', range: { field: 'bid', min: 0 }, message: 'bid must not be negative' },
        { id: 'ad-exists', ref: { field: 'ad_id', dataset: 'ads' } },
        { id: 'country-code', regex: { field: 'country', pattern: '[A-Z]{2}' }, action: 'review', severity: 5 },
        { id: 'big-bid', range: { field: 'bid', max: 100 }, action: 'review', severity: 2 },
        { id: 'start-before-end', sql: 'start <= "end"', action: 'warn' },
      ],
    });
    const r = await curate(project, p, dir, runner);
    const s = r.stats[0]!;
    expect([s.records, s.accepted, s.quarantined, s.review]).toEqual([7, 2, 3, 2]);
    expect(s.rules).toEqual({ 'ad-exists': 1, 'big-bid': 1, 'bid-range': 2, 'country-code': 2, 'start-before-end': 1 });
    const duck = await project.duck();
    const rows = await duck.all<{ id: number }>(`SELECT id FROM (${scanSql(project.dataDir, r.manifest!)}) ORDER BY id`);
    expect(rows.map((x) => x.id)).toEqual([1, 5]);
    const q = await duck.all<{ record: number; reason: string }>(
      `SELECT record, reason FROM (${scanSql(project.dataDir, await project.catalog.manifest('imps-quarantine', 1))}) ORDER BY record`,
    );
    expect(q).toEqual([
      { record: 2, reason: 'rule bid-range: bid must not be negative' },
      { record: 3, reason: 'rule ad-exists: ad_id must exist in ads' },
      { record: 6, reason: 'rule bid-range: bid must not be negative' },
    ]);
    const files = (r.manifest!.extra!.review_files as FileEntry[]).map((f) => lit(safeJoin(project.dataDir, f.path)));
    const review = await duck.all<{ id: number; reason: string; severity: number }>(`SELECT id, reason, severity FROM read_parquet([${files.join(', ')}]) ORDER BY id`);
    expect(review).toEqual([
      { id: 4, reason: 'rule country-code: country must match [A-Z]{2}', severity: 5 },
      { id: 7, reason: 'rule big-bid: bid must be ≤ 100', severity: 2 },
    ]);
    const store = await openReviewStore(project);
    try {
      const items = await store.list({ dataset: 'imps' });
      expect(items.map((i) => [i.kind, i.record.id, i.priority, i.fields, i.reasons, i.source, i.routed_in]).sort((a, b) => Number(a[1]) - Number(b[1]))).toEqual([
        ['rule', 4, 5, ['country'], [{ rule: 'country-code', message: 'country must match [A-Z]{2}' }], 'log', 'imps@1'],
        ['rule', 7, 2, ['bid'], [{ rule: 'big-bid', message: 'bid must be ≤ 100' }], 'log', 'imps@1'],
      ]);
      expect(items[0]!.rules!.map((r) => r.id)).toEqual(['bid-range', 'country-code', 'big-bid']);
    } finally {
      await store.close();
    }
  });

  it('refuses a rule on a field the schema does not have', () => {
    expect(() =>
      definePipeline({ target: 't', schema: [{ name: 'a', type: 'int' }], sources: [{ name: 's', files: 'x.csv' }], rules: [{ id: 'r', not_null: 'b' }] }),
    ).toThrow(/rules\.0 \(r\): b is not a field of the target schema/);
  });
});

describe('a unique rule', () => {
  it('quarantines every row whose key repeats, across files, in the plan\'s reduce step', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'orders'));
    writeFileSync(join(dir, 'orders', 'a.csv'), 'order_id,amount\no1,10\no2,20\no3,30\n');
    writeFileSync(join(dir, 'orders', 'b.csv'), 'order_id,amount\no2,21\no4,40\n');
    const p = definePipeline({
      target: 'orders',
      schema: [
        { name: 'order_id', type: 'string', nullable: false },
        { name: 'amount', type: 'float' },
      ],
      sources: [{ name: 'shop', files: 'orders/*.csv' }],
      rules: [{ id: 'order-unique', unique: ['order_id'] }],
    });
    const r = await curate(project, p, dir, new LocalRunner(await project.duck(), project.catalog));
    expect(r.manifest!.extra!.run).toMatchObject({ records: 5, accepted: 3, quarantined: 2, review: 0 });
    const duck = await project.duck();
    expect((await duck.all<{ order_id: string }>(`SELECT order_id FROM (${scanSql(project.dataDir, r.manifest!)}) ORDER BY 1`)).map((x) => x.order_id)).toEqual(['o1', 'o3', 'o4']);
    const q = await duck.all<{ file: string; record: number; reason: string }>(
      `SELECT file, record, reason FROM (${scanSql(project.dataDir, await project.catalog.resolve({ dataset: 'orders-quarantine', kind: 'latest' }))}) ORDER BY file`,
    );
    expect(q).toEqual([
      { file: 'orders/a.csv', record: 2, reason: 'rule order-unique: order_id must be unique' },
      { file: 'orders/b.csv', record: 1, reason: 'rule order-unique: order_id must be unique' },
    ]);
  });

  it('cannot be combined with dedupe', () => {
    expect(() =>
      definePipeline({
        target: 't',
        schema: [{ name: 'a', type: 'int' }],
        sources: [{ name: 's', files: 'x.csv' }],
        rules: [{ id: 'u', unique: ['a'] }],
        dedupe: { key: ['a'] },
      }),
    ).toThrow(/a unique rule cannot be combined with dedupe or conflicts/);
  });
});
