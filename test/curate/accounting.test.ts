// The accounting invariant on generated input: random mixes of good and damaged rows, where the
// generator knows each row's fate, always reconcile exactly (records = accepted + quarantined, and
// the accepted ids are exactly the good ones).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline } from '../../src/curate/pipeline.ts';

/** A small seeded PRNG (mulberry32) so each case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Row = { text: string; good: boolean; id: number };

function csvRow(id: number, r: () => number): Row {
  const kinds = [
    () => ({ text: `${id},name${id},${(r() * 100).toFixed(2)},2026-01-0${1 + Math.floor(r() * 9)}`, good: true }),
    () => ({ text: `${id},"quoted, name ${id}",1.5,2026-02-01`, good: true }),
    () => ({ text: `${id},"multi\nline ${id}",2.5,2026-02-02`, good: true }),
    () => ({ text: `${id},short`, good: false }),
    () => ({ text: `${id},x,1,2026-01-01,extra`, good: false }),
    () => ({ text: `${id},bad"quote,1,2026-01-01`, good: false }),
    () => ({ text: `${id},n,not-a-number,2026-01-01`, good: false }),
    () => ({ text: `${id},n,1,2026-13-45`, good: false }),
    () => ({ text: `${id},,1,2026-01-01`, good: false }),
  ];
  return { id, ...kinds[Math.floor(r() * kinds.length)]!() };
}

let dir: string;
let project: Project;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-acct-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('accounting on random mixes of good and damaged rows', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: every row ends accepted or quarantined, exactly as generated', async (seed) => {
    const r = rng(seed);
    const n = 50 + Math.floor(r() * 400);
    const rows = Array.from({ length: n }, (_, i) => csvRow(i + 1, r));
    const eol = () => (r() < 0.3 ? '\r\n' : '\n');
    const body = 'id,name,score,day' + eol() + rows.map((x) => x.text + eol()).join('');
    const file = join(dir, `mix-${seed}.csv`);
    writeFileSync(file, r() < 0.5 ? '\ufeff' + body : body);
    const p = definePipeline({
      target: `mix${seed}`,
      schema: [
        { name: 'id', type: 'int', nullable: false },
        { name: 'name', type: 'string', nullable: false },
        { name: 'score', type: 'float' },
        { name: 'day', type: 'date' },
      ],
      sources: [{ name: 'gen', files: file }],
    });
    const res = await curate(project, p, dir, new LocalRunner(await project.duck(), project.catalog));
    const s = res.stats[0]!;
    const good = rows.filter((x) => x.good);
    expect([s.records, s.accepted, s.quarantined]).toEqual([n, good.length, n - good.length]);
    const m = res.manifest!;
    const ids = (await (await project.duck()).all<{ id: number }>(`SELECT id FROM (${scanSql(project.dataDir, m)}) ORDER BY id`)).map((x) => x.id);
    expect(ids).toEqual(good.map((x) => x.id));
  });
});
