// The unique rule's plan: no shuffle files (the reduce reads the map parts' key columns), and only
// the rows still live after the mapping, the SQL rules and the predicates take part in it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
  dir = mkdtempSync(join(tmpdir(), 'sluice-unique-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
  mkdirSync(join(dir, 'orders'));
  // o2's second copy has a negative amount (a predicate quarantines it), o4's second copy an
  // unreadable one (the mapping quarantines it), o5's second copy breaks a SQL review rule
  writeFileSync(join(dir, 'orders', 'a.csv'), 'order_id,amount\no1,10\no2,20\no2,-1\no3,30\no4,40\no4,x\no5,50\n');
  writeFileSync(join(dir, 'orders', 'b.csv'), 'order_id,amount\no3,31\no5,999\no6,60\n');
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every file under `root`, relative, for asserting what a run left behind. */
function files(root: string, prefix = ''): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(root, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

describe('a unique rule', () => {
  it('counts only the rows the mapping, the SQL rules and the predicates let through, and writes no shuffle files', async () => {
    const p = definePipeline({
      target: 'orders',
      schema: [
        { name: 'order_id', type: 'string', nullable: false },
        { name: 'amount', type: 'float' },
      ],
      sources: [{ name: 'shop', files: 'orders/*.csv' }],
      rules: [
        { id: 'amount-cap', range: { field: 'amount', max: 500 }, action: 'review' },
        { id: 'amount-positive', predicate: (b) => b.amount!.map((x) => x === null || (x as number) >= 0) },
        { id: 'order-unique', unique: ['order_id'] },
      ],
    });
    const r = await curate(project, p, dir, new LocalRunner(await project.duck(), project.catalog));
    // a.csv: o1, o2, o3 (dup of b), o4, o5 live; o2 (-1) predicate, o4 (x) mapping. b.csv: o3 (dup), o5 review, o6.
    expect(r.summary.sources).toEqual([{ source: 'shop', files: 2, records: 10, accepted: 5, quarantined: 4, review: 1, duplicate: 0 }]);
    expect(r.summary.rules).toEqual([
      { id: 'amount-cap', action: 'review', fired: 1 },
      { id: 'amount-positive', action: 'quarantine', fired: 1 },
      { id: 'order-unique', action: 'quarantine', fired: 2 },
    ]);
    const duck = await project.duck();
    const kept = await duck.all<{ order_id: string; amount: number }>(`SELECT order_id, amount FROM (${scanSql(project.dataDir, r.manifest!)}) ORDER BY order_id, amount`);
    expect(kept.map((x) => [x.order_id, x.amount])).toEqual([
      ['o1', 10],
      ['o2', 20],
      ['o4', 40],
      ['o5', 50],
      ['o6', 60],
    ]);
    const q = await duck.all<{ file: string; line: number; reason: string }>(
      `SELECT file, line, reason FROM (${scanSql(project.dataDir, await project.catalog.resolve({ dataset: 'orders-quarantine', kind: 'latest' }))}) ORDER BY file, line`,
    );
    expect(q.map((x) => [x.file, x.line, x.reason.split(':')[0]])).toEqual([
      ['orders/a.csv', 4, 'rule amount-positive'],
      ['orders/a.csv', 5, 'rule order-unique'],
      ['orders/a.csv', 7, 'amount'],
      ['orders/b.csv', 2, 'rule order-unique'],
    ]);
    const runDir = join(project.dataDir, 'orders', 'runs');
    expect(files(runDir).filter((f) => f.includes('shuffle'))).toEqual([]);
  });
});
