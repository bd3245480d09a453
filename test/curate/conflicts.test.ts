// Two ad catalogs disagree: fields are merged by policy (source priority, latest, majority), the
// winning source of each field is recorded, and a field whose policy is `review` sends the entity
// to a person with every source's value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { safeJoin } from '../../src/core/names.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline } from '../../src/curate/pipeline.ts';
import type { FileEntry } from '../../src/core/manifest.ts';
import { openReviewStore } from '../../src/review/store.ts';
import { routeReviewItems } from '../../src/curate/review-items.ts';

let dir: string;
let project: Project;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-conflicts-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
  writeFileSync(join(dir, 'house.csv'), 'ad_id,category,price,updated\nad1,sports,1.5,2026-01-01\nad2,travel,2.0,2026-01-05\nad3,food,0.5,2026-01-01\n');
  writeFileSync(join(dir, 'partner.csv'), 'ad_id,category,price,updated\nad1,sports,1.7,2026-02-01\nad2,leisure,2.5,2026-01-02\nad4,food,0.9,2026-01-01\n');
  writeFileSync(join(dir, 'third.csv'), 'ad_id,category,price,updated\nad1,sports,1.9,2026-01-15\n');
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('conflicting sources', () => {
  it('merge field by field, record the winning sources, and send review conflicts to a person', async () => {
    const p = definePipeline({
      target: 'ads',
      schema: [
        { name: 'ad_id', type: 'string', nullable: false },
        { name: 'category', type: 'string' },
        { name: 'price', type: 'float' },
        { name: 'updated', type: 'date' },
      ],
      sources: [
        { name: 'house', files: 'house.csv', priority: 2 },
        { name: 'partner', files: 'partner.csv', priority: 1 },
        { name: 'third', files: 'third.csv', priority: 0 },
      ],
      conflicts: { key: ['ad_id'], fields: { category: 'review', price: 'latest', updated: 'latest' }, by: 'updated', severity: 4 },
    });
    const r = await curate(project, p, dir, new LocalRunner(await project.duck(), project.catalog));
    // 7 records: ad1 ×3 merged, ad3 and ad4 alone, ad2 ×2 disagree on category → review
    expect(r.manifest!.extra!.run).toMatchObject({ records: 7, accepted: 5, review: 2, duplicates: 0, conflicts: 1 });
    const duck = await project.duck();
    const rows = await duck.all<Record<string, unknown>>(`SELECT * FROM (${scanSql(project.dataDir, r.manifest!)}) ORDER BY ad_id`);
    expect(rows.map((x) => [x.ad_id, x.category, x.price, x.updated])).toEqual([
      ['ad1', 'sports', 1.7, '2026-02-01'],
      ['ad3', 'food', 0.5, '2026-01-01'],
      ['ad4', 'food', 0.9, '2026-01-01'],
    ]);
    const ad1 = rows[0]!;
    expect(String(ad1._id)).toMatch(/^entity:[0-9a-f]{16}$/);
    expect(JSON.parse(String(ad1._winners))).toEqual({ ad_id: 'house', category: 'house', price: 'partner', updated: 'partner' });
    expect(rows[1]!._winners).toBeNull();
    const files = (r.manifest!.extra!.review_files as FileEntry[]).map((f) => lit(safeJoin(project.dataDir, f.path)));
    const review = await duck.all<{ ad_id: string; reason: string; severity: number; variants: string; fields: string[] }>(
      `SELECT ad_id, reason, severity, variants, fields FROM read_parquet([${files.join(', ')}])`,
    );
    expect(review.map((x) => [x.ad_id, x.reason, x.severity, x.fields])).toEqual([['ad2', 'sources disagree on category', 4, ['category']]]);
    expect(JSON.parse(review[0]!.variants).map((v: { source: string; record: { category: string } }) => [v.source, v.record.category])).toEqual([
      ['house', 'travel'],
      ['partner', 'leisure'],
    ]);
    // the conflict is in the review queue, with both sources' values, once even if routed again
    const store = await openReviewStore(project);
    try {
      const items = await store.list({ dataset: 'ads' });
      const [{ _id: conflictId }] = (await duck.all<{ _id: string }>(`SELECT _id FROM read_parquet([${files.join(', ')}])`)) as [{ _id: string }];
      expect(conflictId).toMatch(/^entity:[0-9a-f]{16}$/);
      expect(items.map((i) => [i.kind, i.record_id, i.priority, i.fields, i.variants?.map((v) => v.source)])).toEqual([
        ['conflict', conflictId, 4, ['category'], ['house', 'partner']],
      ]);
      expect(await store.addItems([])).toBe(0);
    } finally {
      await store.close();
    }
    expect(await routeReviewItems(project, p, r.manifest!)).toBe(0);
  });
});
