// Point-in-time joins: each event takes the feature values in force at its time, never later ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline } from '../../src/curate/pipeline.ts';

let dir: string;
let project: Project;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-pit-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
  writeFileSync(join(dir, 'features.csv'), 'user_id,valid_from,segment,score\nu1,2026-01-01 00:00,new,0.1\nu1,2026-01-10 00:00,loyal,0.7\nu2,2026-01-05 00:00,new,0.2\n');
  writeFileSync(
    join(dir, 'events.csv'),
    'event_id,user_id,ts\ne1,u1,2025-12-31 23:59\ne2,u1,2026-01-01 00:00\ne3,u1,2026-01-09 23:59\ne4,u1,2026-01-10 00:00\ne5,u2,2026-01-06 12:00\ne6,u3,2026-01-06 12:00\n',
  );
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('point-in-time joins', () => {
  it('give each event the values as of its time, with no leakage from the future', async () => {
    const runner = new LocalRunner(await project.duck(), project.catalog);
    await curate(
      project,
      definePipeline({
        target: 'user-features',
        schema: [
          { name: 'user_id', type: 'string' },
          { name: 'valid_from', type: 'timestamp' },
          { name: 'segment', type: 'string' },
          { name: 'score', type: 'float' },
        ],
        sources: [{ name: 'fs', files: 'features.csv', map: { valid_from: { from: 'valid_from', formats: ['%Y-%m-%d %H:%M'] } } }],
      }),
      dir,
      runner,
    );
    const r = await curate(
      project,
      definePipeline({
        target: 'examples',
        schema: [
          { name: 'event_id', type: 'string' },
          { name: 'user_id', type: 'string' },
          { name: 'ts', type: 'timestamp' },
          { name: 'segment', type: 'string' },
          { name: 'user_score', type: 'float' },
        ],
        sources: [{ name: 'ev', files: 'events.csv', map: { ts: { from: 'ts', formats: ['%Y-%m-%d %H:%M'] } } }],
        joins: [{ dataset: 'user-features@latest', on: ['user_id'], time: 'ts', as_of: 'valid_from', columns: { segment: 'segment', user_score: 'score' } }],
      }),
      dir,
      runner,
    );
    const rows = await (await project.duck()).all(`SELECT event_id, segment, user_score FROM (${scanSql(project.dataDir, r.manifest!)}) ORDER BY event_id`);
    expect(rows).toEqual([
      { event_id: 'e1', segment: null, user_score: null },
      { event_id: 'e2', segment: 'new', user_score: 0.1 },
      { event_id: 'e3', segment: 'new', user_score: 0.1 },
      { event_id: 'e4', segment: 'loyal', user_score: 0.7 },
      { event_id: 'e5', segment: 'new', user_score: 0.2 },
      { event_id: 'e6', segment: null, user_score: null },
    ]);
  });
});
