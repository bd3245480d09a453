// The curate plan gives the same rows (by _id), the same quarantine and the same counts on the
// local runner and on the BullMQ runner with `sluice worker` processes; a PostgreSQL query source
// is read through COPY … TO STDOUT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { makeRunner } from '../../src/engine/execute.ts';
import type { Runner } from '../../src/engine/plan.ts';
import { curate } from '../../src/curate/curate.ts';
import { definePipeline, loadPipeline } from '../../src/curate/pipeline.ts';
import { killWorkers, PG, rowsOf, startWorkers, testEnv, type TestEnv, type WorkerProcess } from '../runners/harness.ts';
import { writeGolden } from './golden.ts';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';

const seen = new Map<string, { rows: unknown[]; quarantine: unknown[]; counts: unknown }>();

describe.each(['local', 'bullmq'] as const)('curate on the %s runner', (kind) => {
  let env: TestEnv;
  let workers: WorkerProcess[] = [];
  let runner: Runner;

  beforeAll(async () => {
    env = await testEnv(`curate-${kind}`);
    writeGolden(env.dir);
    if (kind === 'bullmq') workers = await startWorkers(2, env.queue, { lockMs: 5000, dir: env.dir });
    runner = await makeRunner(env.project, kind === 'local' ? 'local' : 'redis://127.0.0.1:6379', { queue: env.queue });
  });
  afterAll(async () => {
    await runner?.close?.();
    await killWorkers(workers);
    await env?.cleanup();
  });

  it('ingests the golden fixture with the same rows, quarantine and counts', async () => {
    const { pipeline, baseDir } = loadPipeline(join(env.dir, 'pipeline.yaml'));
    const r = await curate(env.project, pipeline, baseDir, runner);
    expect(r.manifest!.rows).toBe(9);
    const rows = (await rowsOf(env.project, 'events')).map((x) => [x._id, x.id, x.user, x.ts, x.amount, x.kind]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const quarantine = (await rowsOf(env.project, 'events-quarantine')).map((x) => [x._id, x.line, x.reason]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const counts = r.stats.map((s) => [s.file, s.records, s.accepted, s.quarantined]).sort();
    expect(quarantine.length).toBe(17);
    seen.set(kind, { rows, quarantine, counts });
    if (seen.has('local') && seen.has('bullmq')) {
      expect(seen.get('bullmq')).toEqual(seen.get('local'));
    }
  });

  it('drops duplicates by key across files in the reduce step, with the same result', async () => {
    mkdirSync(join(env.dir, 'crm'));
    writeFileSync(join(env.dir, 'crm', 'a.csv'), 'user,ts\nu1,2026-01-01\nu2,2026-01-02\nu1,2026-01-05\n');
    writeFileSync(join(env.dir, 'crm', 'b.csv'), 'user,ts\nu2,2026-01-03\nu3,2026-01-01\n');
    const p = definePipeline({
      target: 'users',
      schema: [
        { name: 'user', type: 'string' },
        { name: 'ts', type: 'date' },
      ],
      sources: [{ name: 'crm', files: 'crm/*.csv' }],
      dedupe: { key: ['user'], keep: 'latest', by: 'ts', partitions: 2 },
    });
    const r = await curate(env.project, p, env.dir, runner);
    expect(r.manifest!.extra!.run).toMatchObject({ records: 5, accepted: 3, duplicates: 2 });
    const rows = (await rowsOf(env.project, 'users')).map((x) => [x._id, x.user, x.ts]).sort((a, b) => String(a[1]).localeCompare(String(b[1])));
    expect(rows.map((x) => [x[1], x[2]])).toEqual([
      ['u1', '2026-01-05'],
      ['u2', '2026-01-03'],
      ['u3', '2026-01-01'],
    ]);
    const key = `dedupe-${kind}`;
    seen.set(key, { rows, quarantine: [], counts: null });
    const other = seen.get(`dedupe-${kind === 'local' ? 'bullmq' : 'local'}`);
    if (other) expect(rows).toEqual(other.rows);
  });

  it('runs a module predicate rule on the workers, after dedupe\'s shuffle is redone without its rows', async () => {
    mkdirSync(join(env.dir, 'pred', 'rules'), { recursive: true });
    writeFileSync(join(env.dir, 'pred', 'a.csv'), 'sku,price\ns1,5\ns2,-1\ns1,6\ns3,7\n');
    writeFileSync(join(env.dir, 'pred', 'b.csv'), 'sku,price\ns3,8\ns4,-2\n');
    writeFileSync(join(env.dir, 'pred', 'rules', 'price.ts'), 'export const positive = (b: Record<string, unknown[]>) => b.price!.map((p) => (p as number) > 0);\n');
    const p = definePipeline({
      target: 'skus',
      schema: [
        { name: 'sku', type: 'string' },
        { name: 'price', type: 'float' },
      ],
      sources: [{ name: 'shop', files: 'pred/*.csv' }],
      rules: [{ id: 'price-positive', predicate: 'module:./pred/rules/price.ts#positive', message: 'price must be positive' }],
      dedupe: { key: ['sku'], partitions: 2 },
    });
    const r = await curate(env.project, p, env.dir, runner);
    expect(r.manifest!.extra!.run).toMatchObject({ records: 6, accepted: 2, quarantined: 2, duplicates: 2 });
    expect((await rowsOf(env.project, 'skus')).map((x) => [x.sku, x.price]).sort()).toEqual([
      ['s1', 5],
      ['s3', 7],
    ]);
    expect((await rowsOf(env.project, 'skus-quarantine')).map((x) => [x.file, x.line, x.reason]).sort()).toEqual([
      ['pred/a.csv', 3, 'rule price-positive: price must be positive'],
      ['pred/b.csv', 3, 'rule price-positive: price must be positive'],
    ]);
  });

  it('applies a unique rule across files (the reduce reads the keys of the map parts; no shuffle files), the same on both runners', async () => {
    mkdirSync(join(env.dir, 'uq'));
    writeFileSync(join(env.dir, 'uq', 'a.csv'), 'order_id,amount\no1,10\no2,20\no3,30\n');
    writeFileSync(join(env.dir, 'uq', 'b.csv'), 'order_id,amount\no2,21\no4,40\n');
    const p = definePipeline({
      target: 'orders',
      schema: [
        { name: 'order_id', type: 'string' },
        { name: 'amount', type: 'float' },
      ],
      sources: [{ name: 'shop', files: 'uq/*.csv' }],
      rules: [{ id: 'order-unique', unique: ['order_id'] }],
    });
    const r = await curate(env.project, p, env.dir, runner);
    expect(r.summary.sources).toEqual([{ source: 'shop', files: 2, records: 5, accepted: 3, quarantined: 2, review: 0, duplicate: 0 }]);
    expect((await rowsOf(env.project, 'orders')).map((x) => x.order_id).sort()).toEqual(['o1', 'o3', 'o4']);
    expect((await rowsOf(env.project, 'orders-quarantine')).map((x) => [x.file, x.line, x.reason]).sort()).toEqual([
      ['uq/a.csv', 3, 'rule order-unique: order_id must be unique'],
      ['uq/b.csv', 2, 'rule order-unique: order_id must be unique'],
    ]);
  });

  it('reads a PostgreSQL query source with COPY and maps it like a file', async () => {
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    await c.query(`CREATE TABLE ${env.schema}.users (id int, name text, joined text)`);
    await c.query(`INSERT INTO ${env.schema}.users VALUES (1, 'ann', '2026-01-02'), (2, 'ben', 'not a date'), (3, NULL, '2026-03-04')`);
    await c.end();
    const p = definePipeline({
      target: 'users',
      schema: [
        { name: 'id', type: 'int', nullable: false },
        { name: 'name', type: 'string', nullable: false },
        { name: 'joined', type: 'date' },
      ],
      sources: [{ name: 'crm', query: `SELECT id, name, joined FROM ${env.schema}.users ORDER BY id`, postgres: PG }],
    });
    const r = await curate(env.project, p, env.dir, runner);
    expect(r.stats.map((s) => [s.records, s.accepted, s.quarantined])).toEqual([[3, 1, 2]]);
    expect((await rowsOf(env.project, 'users')).map((x) => [x.id, x.name, x.joined])).toEqual([[1, 'ann', '2026-01-02']]);
    expect((await rowsOf(env.project, 'users-quarantine')).map((x) => [x.line, x.reason]).sort()).toEqual([
      [3, 'joined: cannot read "not a date" as a date YYYY-MM-DD'],
      [4, 'name: required, but empty'],
    ]);
  });
});
