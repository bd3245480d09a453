// TypeScript predicate rules: a function (in-process) or a module beside the pipeline gets batches of
// columns; the rows it breaks go to quarantine, review or warn exactly like a SQL rule's, with file,
// line and reason; a predicate that throws fails the run with a UserCodeError naming rule and batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { safeJoin } from '../../src/core/names.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { makeRunner } from '../../src/engine/execute.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline, loadPipeline, type PipelineInput } from '../../src/curate/pipeline.ts';
import type { ColumnBatch } from '../../src/curate/rules.ts';
import type { FileEntry } from '../../src/core/manifest.ts';
import { ConfigError, UserCodeError } from '../../src/core/errors.ts';

let dir: string;
let project: Project;
const runner = async () => new LocalRunner(await project.duck(), project.catalog);
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-pred-'));
  Project.init(dir);
  project = await Project.open(dir, { threads: 1 });
  writeFileSync(
    join(dir, 'prices.csv'),
    [
      'sku,price,list_price,country',
      'a,10,12,US', // line 2 ok
      'b,15,12,US', // line 3 price above list → quarantine (predicate)
      'c,5,6,usa', // line 4 country → review (SQL rule)
      'd,9,8,usa', // line 5 SQL review and predicate quarantine: quarantine wins
      'e,0,1,US', // line 6 zero price → review (predicate), with severity 7
      'f,x,1,US', // line 7 not a number → quarantine by the mapping, never seen by predicates
      'g,3,,US', // line 8 list price missing: passes (the predicate lets nulls through)
    ].join('\n') + '\n',
  );
  mkdirSync(join(dir, 'pipelines', 'rules'), { recursive: true });
  writeFileSync(
    join(dir, 'pipelines', 'rules', 'price.ts'),
    [
      '// price must not exceed the list price (nulls pass)',
      'export function checkPrice(b: Record<string, unknown[]>): Uint8Array {',
      '  const out = new Uint8Array(b.price!.length);',
      '  for (let i = 0; i < out.length; i++) out[i] = b.list_price![i] == null || (b.price![i] as number) <= (b.list_price![i] as number) ? 1 : 0;',
      '  return out;',
      '}',
      'export function boom(): boolean[] { throw new Error("price table not loaded"); }',
    ].join('\n') + '\n',
  );
});
afterAll(async () => {
  await project.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = (target: string, rules: PipelineInput['rules']): PipelineInput => ({
  target,
  schema: [
    { name: 'sku', type: 'string', nullable: false },
    { name: 'price', type: 'float' },
    { name: 'list_price', type: 'float' },
    { name: 'country', type: 'string' },
  ],
  sources: [{ name: 'shop', files: 'prices.csv' }],
  rules,
});

const positive = (b: ColumnBatch) => b.price!.map((p) => (p as number) > 0);

async function outcomes(target: string, manifestRows: () => Promise<unknown>) {
  const duck = await project.duck();
  const q = await duck.all<{ line: number; reason: string }>(`SELECT line, reason FROM (${scanSql(project.dataDir, await project.catalog.resolve({ dataset: `${target}-quarantine`, kind: 'latest' }))}) ORDER BY line`);
  return { rows: await manifestRows(), q };
}

describe('a predicate rule', () => {
  it('given as a function quarantines exactly the rows it breaks, with line and reason; review and warn route like SQL rules', async () => {
    const p = definePipeline(
      base('prices', [
        { id: 'country-code', regex: { field: 'country', pattern: '[A-Z]{2}' }, action: 'review', severity: 2 },
        { id: 'price-le-list', predicate: 'module:./pipelines/rules/price.ts#checkPrice', message: 'price must not exceed the list price' },
        { id: 'price-positive', predicate: positive, action: 'review', severity: 7 },
        { id: 'cheap', predicate: (b) => b.price!.map((p) => (p as number) >= 5), action: 'warn' },
      ]),
    );
    const r = await curate(project, p, dir, await runner());
    const s = r.stats[0]!;
    expect([s.records, s.accepted, s.quarantined, s.review]).toEqual([7, 2, 3, 2]);
    expect(s.rules).toEqual({ 'country-code': 2, 'price-le-list': 2, 'price-positive': 1, cheap: 2 });
    const duck = await project.duck();
    const kept = await duck.all<{ sku: string; line: number }>(`SELECT sku, _source.line AS line FROM (${scanSql(project.dataDir, r.manifest!)}) ORDER BY sku`);
    expect(kept).toEqual([
      { sku: 'a', line: 2 },
      { sku: 'g', line: 8 },
    ]);
    const { q } = await outcomes('prices', async () => null);
    expect(q).toEqual([
      { line: 3, reason: 'rule price-le-list: price must not exceed the list price' },
      { line: 5, reason: 'rule price-le-list: price must not exceed the list price' },
      { line: 7, reason: 'price: cannot read "x" as a number' },
    ]);
    const files = (r.manifest!.extra!.review_files as FileEntry[]).map((f) => lit(safeJoin(project.dataDir, f.path)));
    const review = await duck.all(`SELECT sku, _source.line AS line, reason, rules, severity FROM read_parquet([${files.join(', ')}]) ORDER BY sku`);
    expect(review).toEqual([
      { sku: 'c', line: 4, reason: 'rule country-code: country must match [A-Z]{2}', rules: ['country-code'], severity: 2 },
      { sku: 'e', line: 6, reason: 'rule price-positive: predicate function must hold', rules: ['price-positive', 'cheap'], severity: 7 },
    ]);
    expect(r.manifest!.extra!.run).toMatchObject({ records: 7, accepted: 2, quarantined: 3, review: 2 });
  });

  it('given as module:<file>#<export> in YAML resolves against the pipeline file\'s folder', async () => {
    writeFileSync(
      join(dir, 'pipelines', 'prices.yaml'),
      [
        'target: prices_yaml',
        'schema: [{ name: sku, type: string }, { name: price, type: float }, { name: list_price, type: float }, { name: country, type: string }]',
        'sources: [{ name: shop, files: ../prices.csv }]',
        'rules:',
        "  - { id: price-le-list, predicate: 'module:./rules/price.ts#checkPrice', message: price above list, action: quarantine }",
      ].join('\n') + '\n',
    );
    const { pipeline, baseDir } = loadPipeline(join(dir, 'pipelines', 'prices.yaml'));
    const r = await curate(project, pipeline, baseDir, await runner());
    expect(r.stats.map((s) => [s.records, s.accepted, s.quarantined])).toEqual([[7, 4, 3]]);
    const { q } = await outcomes('prices_yaml', async () => null);
    expect(q.map((x) => [x.line, x.reason])).toEqual([
      [3, 'rule price-le-list: price above list'],
      [5, 'rule price-le-list: price above list'],
      [7, 'price: cannot read "x" as a number'],
    ]);
  });

  it('that throws fails the run with a UserCodeError naming the rule, the batch and its lines, and commits nothing', async () => {
    const p = definePipeline(base('prices_boom', [{ id: 'boom', predicate: 'module:./pipelines/rules/price.ts#boom' }]));
    const err = await curate(project, p, dir, await runner()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserCodeError);
    expect((err as Error).message).toMatch(/rule boom: predicate, batch 1 of source shop, file prices\.csv \(6 rows, lines 2–8\) threw: price table not loaded/);
    expect(await project.catalog.head('prices_boom')).toBeNull();
  });

  it('that answers with the wrong number of values fails the same way', async () => {
    const p = definePipeline(base('prices_short', [{ id: 'short', predicate: () => [true] }]));
    await expect(curate(project, p, dir, await runner())).rejects.toThrow(/rule short: predicate, batch 1 .* returned 1 values; expected one boolean per row \(6\)/);
  });

  it('given as a function is refused on BullMQ before anything is queued, saying to use a module', async () => {
    const p = definePipeline(base('prices_bull', [{ id: 'fn', predicate: positive }]));
    const bull = await makeRunner(project, 'redis://127.0.0.1:6379', { queue: `sluice-test-pred-${process.pid}` });
    try {
      const err = await curate(project, p, dir, bull).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe('rule fn: a predicate given as a function only runs in-process (the local runner), not on bullmq workers');
      expect((err as ConfigError).hint).toMatch(/predicate: 'module:\.\/path\/to\/file\.ts#name'/);
    } finally {
      await bull.close?.();
    }
  });

  it('naming a module that does not exist is a ConfigError naming the rule', () => {
    const p = definePipeline(base('prices_missing', [{ id: 'gone', predicate: 'module:./nope.ts#x' }]));
    return expect(curate(project, p, dir, new LocalRunner(null as never, project.catalog))).rejects.toThrow(/rule gone: predicate module .*nope\.ts does not exist/);
  });
});
