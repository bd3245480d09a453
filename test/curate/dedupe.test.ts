// Duplicates across files and runs: by key with a keep policy, and exact; each dropped row names
// the `_id` it duplicates; accounting: records = accepted + quarantined + review + duplicates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline, type PipelineInput } from '../../src/curate/pipeline.ts';

let dir: string;
let project: Project;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-dedupe-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
  mkdirSync(join(dir, 'crm'));
  writeFileSync(join(dir, 'crm', 'a.csv'), 'user,ts,plan\nu1,2026-01-01,free\nu2,2026-01-02,pro\nu1,2026-01-05,pro\nu3,2026-01-01,free\n');
  writeFileSync(join(dir, 'crm', 'b.csv'), 'user,ts,plan\nu2,2026-01-01,free\nu1,2026-01-03,team\nu4,2026-01-09,free\n');
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

async function rows(dataset: string): Promise<Record<string, unknown>[]> {
  const m = await project.catalog.resolve({ dataset, kind: 'latest' });
  return (await project.duck()).all(`SELECT * FROM (${scanSql(project.dataDir, m)}) ORDER BY 1`);
}

const pipeline = (extra: Partial<PipelineInput> = {}) =>
  definePipeline({
    target: 'users',
    schema: [
      { name: 'user', type: 'string', nullable: false },
      { name: 'ts', type: 'date' },
      { name: 'plan', type: 'string' },
    ],
    sources: [{ name: 'crm', files: 'crm/*.csv' }],
    dedupe: { key: ['user'], keep: 'latest', by: 'ts', partitions: 3 },
    ...extra,
  });

describe('dedupe by key, keeping the latest', () => {
  it('keeps one row per key across files, and records what each dropped row duplicates', async () => {
    const r = await curate(project, pipeline(), dir, new LocalRunner(await project.duck(), project.catalog));
    expect(r.manifest!.extra!.run).toMatchObject({ records: 7, accepted: 4, quarantined: 0, review: 0, duplicates: 3, superseded: 0 });
    const kept = (await rows('users')).map((x) => [x.user, x.ts, x.plan, (x._source as { file: string; record: number }).file, (x._source as { record: number }).record]);
    expect(kept.sort()).toEqual([
      ['u1', '2026-01-05', 'pro', 'crm/a.csv', 3],
      ['u2', '2026-01-02', 'pro', 'crm/a.csv', 2],
      ['u3', '2026-01-01', 'free', 'crm/a.csv', 4],
      ['u4', '2026-01-09', 'free', 'crm/b.csv', 3],
    ]);
    const ids = new Map((await rows('users')).map((x) => [x.user as string, x._id as string]));
    const dups = (await rows('users-duplicates')).map((x) => [x.file, x.record, x.duplicate_of]);
    expect(dups.sort()).toEqual([
      ['crm/a.csv', 1, ids.get('u1')],
      ['crm/b.csv', 1, ids.get('u2')],
      ['crm/b.csv', 2, ids.get('u1')],
    ]);
  });

  it('works across incremental runs: a newer row in a new file replaces the kept one', async () => {
    writeFileSync(join(dir, 'crm', 'c.csv'), 'user,ts,plan\nu3,2026-02-01,team\nu4,2025-12-31,pro\n');
    const r = await curate(project, pipeline(), dir, new LocalRunner(await project.duck(), project.catalog));
    expect(r.stats.map((s) => s.file)).toEqual(['crm/c.csv']);
    expect(r.manifest!.extra!.run).toMatchObject({ records: 2, accepted: 1, duplicates: 1, superseded: 1 });
    const kept = (await rows('users')).map((x) => [x.user, x.ts, x.plan]);
    expect(kept.sort()).toEqual([
      ['u1', '2026-01-05', 'pro'],
      ['u2', '2026-01-02', 'pro'],
      ['u3', '2026-02-01', 'team'],
      ['u4', '2026-01-09', 'free'],
    ]);
    expect((await rows('users-duplicates')).length).toBe(5);
  });
});

describe('exact duplicates', () => {
  it('drops records whose mapped fields are all equal, keeping the first seen', async () => {
    writeFileSync(join(dir, 'x.csv'), 'user,ts,plan\nu9,2026-01-01,free\nu9,2026-01-01,free\nu9,2026-01-01,pro\n');
    const p = definePipeline({
      target: 'exact',
      schema: [
        { name: 'user', type: 'string' },
        { name: 'ts', type: 'date' },
        { name: 'plan', type: 'string' },
      ],
      sources: [{ name: 's', files: 'x.csv' }],
      dedupe: { keep: 'first' },
    });
    const r = await curate(project, p, dir, new LocalRunner(await project.duck(), project.catalog));
    expect(r.manifest!.extra!.run).toMatchObject({ records: 3, accepted: 2, duplicates: 1 });
    expect((await rows('exact')).map((x) => [(x._source as { record: number }).record, x.plan]).sort()).toEqual([
      [1, 'free'],
      [3, 'pro'],
    ]);
  });
});
