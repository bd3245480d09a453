// The run's summary: per source × outcome counts (accepted, quarantined, review, duplicate) counted
// from what the run wrote, per-rule fires, and the reconciliation check that refuses counts that do
// not add up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline, type PipelineInput } from '../../src/curate/pipeline.ts';
import { reconcile } from '../../src/curate/summary.ts';
import { IntegrityError } from '../../src/core/errors.ts';

let dir: string;
let project: Project;
const runner = async () => new LocalRunner(await project.duck(), project.catalog);
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-summary-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
  mkdirSync(join(dir, 'web'));
  // web: 2 files, 7 records
  writeFileSync(join(dir, 'web', 'a.csv'), 'user,amount,country\nu1,5,US\nu2,-1,US\nu3,x,US\nu4,7,usa\n'); // ok, range→q, mapping→q, regex→review
  writeFileSync(join(dir, 'web', 'b.csv'), 'user,amount,country\nu1,6,US\nu5,8,US\nu6,900,US\n'); // dup of u1, ok, predicate→q
  // app: 1 file, 4 records
  writeFileSync(join(dir, 'app.csv'), 'user,amount,country\nu5,9,DE\nu7,1,DE\nu8,2,de\nu9,3,DE\n'); // dup of u5 (web seen first), ok, review, ok
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

const pipeline = (): PipelineInput => ({
  target: 'spend',
  schema: [
    { name: 'user', type: 'string', nullable: false },
    { name: 'amount', type: 'float' },
    { name: 'country', type: 'string' },
  ],
  sources: [
    { name: 'web', files: 'web/*.csv' },
    { name: 'app', files: 'app.csv' },
  ],
  rules: [
    { id: 'amount-positive', range: { field: 'amount', min: 0 } },
    { id: 'country-code', regex: { field: 'country', pattern: '[A-Z]{2}' }, action: 'review' },
    { id: 'amount-sane', predicate: (b) => b.amount!.map((a) => (a as number) < 500) },
    { id: 'small', predicate: (b) => b.amount!.map((a) => (a as number) >= 2), action: 'warn' },
  ],
  dedupe: { key: ['user'], keep: 'first', partitions: 2 },
});

describe('the curate summary', () => {
  it('counts each source × outcome and each rule exactly', async () => {
    const r = await curate(project, definePipeline(pipeline()), dir, await runner());
    expect(r.summary.sources).toEqual([
      { source: 'web', files: 2, records: 7, accepted: 2, quarantined: 3, review: 1, duplicate: 1 },
      { source: 'app', files: 1, records: 4, accepted: 2, quarantined: 0, review: 1, duplicate: 1 },
    ]);
    expect(r.summary.rules).toEqual([
      { id: 'amount-positive', action: 'quarantine', fired: 1 },
      { id: 'country-code', action: 'review', fired: 2 },
      { id: 'amount-sane', action: 'quarantine', fired: 1 },
      { id: 'small', action: 'warn', fired: 1 },
    ]);
    expect(r.manifest!.rows).toBe(4);
    expect(r.manifest!.extra!.outcomes).toEqual(r.summary.sources);
  });

  it('counts only the new records on an incremental run, duplicates of rows already in the dataset included', async () => {
    writeFileSync(join(dir, 'web', 'c.csv'), 'user,amount,country\nu1,4,US\nu10,3,US\n'); // u1 is in the dataset already
    const r = await curate(project, definePipeline(pipeline()), dir, await runner());
    expect(r.skipped.length).toBe(3);
    expect(r.summary.sources).toEqual([{ source: 'web', files: 1, records: 2, accepted: 1, quarantined: 0, review: 0, duplicate: 1 }]);
    expect(r.manifest!.rows).toBe(5);
  });

  it('counts the records merged into an entity and those a conflict sends to review, per source', async () => {
    writeFileSync(join(dir, 'house.csv'), 'ad,cat\nad1,sports\nad2,travel\nad3,food\n');
    writeFileSync(join(dir, 'partner.csv'), 'ad,cat\nad1,sports\nad2,leisure\nad4,food\nad4,food\n');
    const p = definePipeline({
      target: 'ads',
      schema: [
        { name: 'ad', type: 'string', nullable: false },
        { name: 'cat', type: 'string' },
      ],
      sources: [
        { name: 'house', files: 'house.csv', priority: 2 },
        { name: 'partner', files: 'partner.csv', priority: 1 },
      ],
      conflicts: { key: ['ad'], default: 'review' },
    });
    const r = await curate(project, p, dir, await runner());
    expect(r.summary.sources).toEqual([
      { source: 'house', files: 1, records: 3, accepted: 2, quarantined: 0, review: 1, duplicate: 0 },
      { source: 'partner', files: 1, records: 4, accepted: 2, quarantined: 0, review: 1, duplicate: 1 },
    ]);
    expect(r.manifest!.rows).toBe(3); // ad1 merged, ad3, ad4
  });

  it('counts a unique rule\'s rows per source, against the rows already in the dataset too', async () => {
    mkdirSync(join(dir, 'orders'));
    writeFileSync(join(dir, 'orders', 'a.csv'), 'order_id,shop\no1,s1\no2,s1\no3,\no4,\n'); // o3 and o4: shop missing (NULLs are a value for the key)
    const p = definePipeline({
      target: 'orders',
      schema: [
        { name: 'order_id', type: 'string', nullable: false },
        { name: 'shop', type: 'string' },
      ],
      sources: [{ name: 'shop', files: 'orders/*.csv' }],
      rules: [{ id: 'order-unique', unique: ['order_id', 'shop'] }],
    });
    const first = await curate(project, p, dir, await runner());
    expect(first.summary.sources).toEqual([{ source: 'shop', files: 1, records: 4, accepted: 4, quarantined: 0, review: 0, duplicate: 0 }]);
    writeFileSync(join(dir, 'orders', 'b.csv'), 'order_id,shop\no2,s1\no3,\no5,s2\no5,s2\n');
    const r = await curate(project, p, dir, await runner());
    expect(r.summary.sources).toEqual([{ source: 'shop', files: 1, records: 4, accepted: 0, quarantined: 4, review: 0, duplicate: 0 }]);
    expect(r.summary.rules).toEqual([{ id: 'order-unique', action: 'quarantine', fired: 4 }]);
    expect(r.manifest!.extra!.run).toMatchObject({ superseded: 2 });
    expect(r.manifest!.rows).toBe(2); // o1 and o4 stay; o2 and o3 leave with their new copies
  });

  it('sends a review unique rule\'s rows to review whole, and a warn one keeps them', async () => {
    const p = (action: 'review' | 'warn') =>
      definePipeline({
        target: `orders_${action}`,
        schema: [
          { name: 'order_id', type: 'string', nullable: false },
          { name: 'shop', type: 'string' },
        ],
        sources: [{ name: 'shop', files: 'orders/*.csv' }],
        rules: [{ id: 'order-unique', unique: ['order_id', 'shop'], action, severity: 4 }],
      });
    const r = await curate(project, p('review'), dir, await runner());
    expect(r.summary.sources).toEqual([{ source: 'shop', files: 2, records: 8, accepted: 2, quarantined: 0, review: 6, duplicate: 0 }]);
    const files = (r.manifest!.extra!.review_files as { path: string }[]).map((f) => `'${join(project.dataDir, f.path)}'`);
    const review = await (await project.duck()).all(`SELECT order_id, shop, reason, severity FROM read_parquet([${files.join(', ')}]) ORDER BY order_id, _id`);
    expect(review.map((x) => [x.order_id, x.shop, x.severity])).toEqual([
      ['o2', 's1', 4],
      ['o2', 's1', 4],
      ['o3', null, 4],
      ['o3', null, 4],
      ['o5', 's2', 4],
      ['o5', 's2', 4],
    ]);
    expect(review[0]!.reason).toBe('rule order-unique: order_id, shop must be unique');
    const w = await curate(project, p('warn'), dir, await runner());
    expect(w.summary.sources).toEqual([{ source: 'shop', files: 2, records: 8, accepted: 8, quarantined: 0, review: 0, duplicate: 0 }]);
    expect(w.manifest!.rows).toBe(8);
  });

  it('refuses counts that do not reconcile with an IntegrityError naming the source and its counts', () => {
    const bad = [
      { source: 'web', files: 1, records: 5, accepted: 2, quarantined: 1, review: 1, duplicate: 0 },
      { source: 'app', files: 1, records: 3, accepted: 3, quarantined: 0, review: 0, duplicate: 0 },
    ];
    expect(() => reconcile(bad, 'spend')).toThrow(IntegrityError);
    expect(() => reconcile(bad, 'spend')).toThrow('spend: source web read 5 records, but its outcomes add up to 4 (accepted 2 + quarantined 1 + review 1 + duplicate 0)');
    expect(() => reconcile(bad.slice(1), 'spend')).not.toThrow();
  });
});
