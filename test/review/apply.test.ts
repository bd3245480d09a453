// `sluice review apply`: decisions fold into a new version that shares the old parts; rejected
// records go to quarantine; every changed row names its decision; applying twice changes nothing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanSql } from '../../src/core/dataset.ts';
import { Project } from '../../src/core/project.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { openReviewStore, type Reviewer, type ReviewStore } from '../../src/review/store.ts';
import type { ReviewItemInput } from '../../src/review/types.ts';
import { cli, cliJson, newProject } from '../foundation/helpers.ts';

const rule = (record_id: string, record: Record<string, unknown>, extra: Partial<ReviewItemInput> = {}): ReviewItemInput => ({
  dataset: 'ads',
  record_id,
  kind: 'rule',
  record,
  fields: ['price'],
  reasons: [{ rule: 'price>=0', message: 'price must not be negative' }],
  priority: 1,
  source: 'ads',
  routed_in: 'ads@1',
  ...extra,
});

describe('review apply', () => {
  let dir: string;
  let project: Project;
  let store: ReviewStore;
  let alice: Reviewer;
  let ids: string[];
  beforeEach(async () => {
    dir = await newProject();
    const csv = join(dir, 'ads.csv');
    writeFileSync(csv, 'ad,price\na1,10\na2,20\na3,30\na4,40\n');
    await cliJson(dir, 'import', csv, '--name', 'ads');
    project = await Project.open(dir);
    store = await openReviewStore(project);
    alice = (await store.addReviewer('alice')).reviewer;
    const duck = await project.duck();
    const m = await project.catalog.manifest('ads', 1);
    ids = (await duck.all<{ _id: string }>(`SELECT _id FROM (${scanSql(project.dataDir, m)}) ORDER BY ad`)).map((r) => r._id);
  });
  afterEach(async () => {
    await store.close();
    await project.close();
  });

  const rows = async (dataset: string, version: number, cols = 'ad, price') => {
    const m = await project.catalog.manifest(dataset, version);
    return (await project.duck()).all(`SELECT ${cols} FROM (${scanSql(project.dataDir, m)}) ORDER BY ALL`);
  };

  it('adds accepted and edited records, replaces a chosen variant, removes and quarantines rejected ones, sharing the old part', async () => {
    await store.addItems([
      rule(ids[1]!, { ad: 'a2', price: 20 }, { kind: 'conflict', fields: ['price'], variants: [{ source: 'crawl', _id: 'c:2', record: { ad: 'a2', price: 20 } }, { source: 'partner', _id: 'p:9', record: { ad: 'a2', price: 25 } }] }),
      rule('new-1', { ad: 'n1', price: 7 }),
      rule('new-2', { ad: 'n2', price: -1 }),
      rule(ids[2]!, { ad: 'a3', price: 30 }),
      rule('new-3', { ad: 'n3', price: -9 }),
      rule('new-4', { ad: 'n4', price: 4 }),
    ]);
    const d = [
      await store.decide(alice, 1, { action: 'accept', variant: 'partner' }, { requireLease: false }),
      await store.decide(alice, 2, { action: 'accept' }, { requireLease: false }),
      await store.decide(alice, 3, { action: 'edit', record: { ad: 'n2', price: 1 } }, { requireLease: false }),
      await store.decide(alice, 4, { action: 'reject', comment: 'withdrawn' }, { requireLease: false }),
      await store.decide(alice, 5, { action: 'reject' }, { requireLease: false }),
    ].map((r) => r.decision.id);

    const r = await cliJson(dir, 'review', 'apply', 'ads');
    expect(r).toEqual({ dataset: 'ads', from: 1, to: 2, added: 2, replaced: 1, removed: 1, quarantined: 2, decisions: d });
    expect(await rows('ads', 2)).toEqual([
      { ad: 'a1', price: 10 },
      { ad: 'a2', price: 25 },
      { ad: 'a4', price: 40 },
      { ad: 'n1', price: 7 },
      { ad: 'n2', price: 1 },
    ]);
    const v1 = await project.catalog.manifest('ads', 1);
    const v2 = await project.catalog.manifest('ads', 2);
    // The imported part is shared; only a deletion file (rows a2 and a3) and one new part are written.
    expect(v2.parts).toHaveLength(2);
    expect(v2.parts[0]).toMatchObject({ path: v1.parts[0]!.path, sha256: v1.parts[0]!.sha256, deletes: { rows: 2 } });
    expect(v2.parts[1]).toMatchObject({ rows: 3, hidden: ['_review'] });
    expect(v2).toMatchObject({ operation: 'review-apply', parents: ['ads@1'], rows: 5, extra: { review: { decisions: d, added: 2, replaced: 1, removed: 1, quarantined: 2 } } });
    // Each written row names the decision that wrote it, and keeps its `_id`.
    const duck = await project.duck();
    const lineage = await duck.all(`SELECT _id, _review, _source.source AS source FROM read_parquet(${lit(join(project.dataDir, v2.parts[1]!.path))}) ORDER BY _review`);
    expect(lineage).toEqual([
      { _id: ids[1], _review: d[0], source: 'partner' },
      { _id: 'new-1', _review: d[1], source: 'ads' },
      { _id: 'new-2', _review: d[2], source: 'ads' },
    ]);
    expect(await rows('ads', 2, '_id')).toEqual([ids[0], ids[1], ids[3], 'new-1', 'new-2'].sort().map((_id) => ({ _id })));
    // Rejected records, in the data or not, are in quarantine with the decision and the reviewer.
    const qHead = (await project.catalog.head('ads-quarantine'))!;
    expect(await rows('ads-quarantine', qHead, '_id, stage, reason')).toEqual([
      { _id: ids[2], stage: 'review', reason: `review: rejected by alice (decision ${d[3]}): withdrawn` },
      { _id: 'new-3', stage: 'review', reason: `review: rejected by alice (decision ${d[4]})` },
    ]);
    expect((await store.item(1)).applied_in).toBe('ads@2');

    // Applying again changes nothing.
    expect(await cliJson(dir, 'review', 'apply', 'ads')).toMatchObject({ from: 2, to: null, decisions: [] });
    expect(await project.catalog.head('ads')).toBe(2);
    expect(await project.catalog.head('ads-quarantine')).toBe(qHead);

    // A decision made later goes into the next apply, and only it.
    const late = (await store.decide(alice, 6, { action: 'accept' }, { requireLease: false })).decision.id;
    expect(await cliJson(dir, 'review', 'apply', 'ads')).toEqual({ dataset: 'ads', from: 2, to: 3, added: 1, replaced: 0, removed: 0, quarantined: 0, decisions: [late] });
    expect((await rows('ads', 3)).length).toBe(6);
    expect((await project.catalog.manifest('ads', 3)).parts.slice(0, 2)).toEqual(v2.parts);
  });

  it('refuses an accepted record with a field the schema does not have, and names the decision', async () => {
    await store.addItems([rule('x', { ad: 'x', price: 1, colour: 'red' })]);
    const { decision } = await store.decide(alice, 1, { action: 'accept' }, { requireLease: false });
    const r = await cli(dir, 'review', 'apply', 'ads');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`review decision ${decision.id} (item 1) has fields not in ads's schema: colour`);
    expect(await project.catalog.head('ads')).toBe(1);
  });

  it('adds reviewers from the command line and refuses a second one of the same name', async () => {
    const a = await cliJson<{ name: string; role: string; token: string }>(dir, 'review', 'add-reviewer', 'judge', '--adjudicator');
    expect(a).toMatchObject({ name: 'judge', role: 'adjudicator' });
    expect(await store.authenticate(a.token)).toMatchObject({ name: 'judge', role: 'adjudicator' });
    const again = await cli(dir, 'review', 'add-reviewer', 'judge');
    expect([again.code, again.stderr.split('\n')[0]]).toEqual([1, 'ReviewConflictError: reviewer judge already exists']);
    const missing = await cli(dir, 'review', 'apply', 'nope');
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([1, 'NotFoundError: dataset nope does not exist']);
  });
});
