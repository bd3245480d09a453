// Stats, split and rebalance are plans: on BullMQ workers (PostgreSQL catalog) they give the same
// results as on the local runner.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../src/engine/execute.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import type { Runner } from '../../src/engine/plan.ts';
import { importFiles } from '../../src/io/import.ts';
import { computeStats } from '../../src/analyze/stats.ts';
import { splitVersion } from '../../src/analyze/split.ts';
import { rebalanceVersion } from '../../src/analyze/rebalance.ts';
import { killWorkers, rowsOf, startWorkers, testEnv, type TestEnv, type WorkerProcess } from '../runners/harness.ts';

const seen = new Map<string, unknown>();
const ROWS = `SELECT i AS user_id, (i % 10 = 0)::INTEGER AS label, 'c' || (i % 7) AS cat, (i % 101)::DOUBLE AS x FROM range(3000) r(i)`;

describe.each(['local', 'bullmq'] as const)('analyze on the %s runner', (kind) => {
  let env: TestEnv;
  let workers: WorkerProcess[] = [];
  let runner: Runner;

  beforeAll(async () => {
    env = await testEnv(`analyze-${kind}`);
    const duck = await env.project.duck();
    const files = [0, 1, 2].map((i) => join(env.dir, `part${i}.parquet`));
    for (const [i, file] of files.entries()) await duck.run(`COPY (SELECT * FROM (${ROWS}) WHERE user_id % 3 = ${i}) TO ${lit(file)} (FORMAT parquet)`);
    await importFiles(env.project, { name: 'ads', files }, new LocalRunner(duck, env.project.catalog));
    if (kind === 'bullmq') workers = await startWorkers(2, env.queue, { lockMs: 5000, dir: env.dir });
    runner = await makeRunner(env.project, kind === 'local' ? 'local' : 'redis://127.0.0.1:6379', { queue: env.queue });
  });
  afterAll(async () => {
    await runner?.close?.();
    await killWorkers(workers);
    await env?.cleanup();
  });

  it('computes the same stats, splits and resampling as every other runner', async () => {
    const s = await computeStats(env.project, 'ads', { label: 'label', runner });
    expect(s.tasks).toBe(3);
    const x = s.columns.find((c) => c.name === 'x')!;
    expect([x.count, x.min, x.max, x.distinct, x.distinctExact]).toEqual([3000, 0, 100, 101, true]);
    const split = await splitVersion(env.project, 'ads', { ratios: [0.8, 0.2], stratify: 'label', seed: 4, runner });
    expect(split.splits.map((p) => [p.dataset, p.rows, p.strata])).toEqual([
      ['ads-train', 2400, { '0': 2160, '1': 240 }],
      ['ads-test', 600, { '0': 540, '1': 60 }],
    ]);
    const m = await rebalanceVersion(env.project, 'ads-train', { label: 'label', undersample: 0.5, seed: 4, runner });
    expect(m.rows).toBe(720);
    const ids = (await rowsOf(env.project, 'ads-train', m.version)).map((r) => String(r._id)).sort();
    seen.set(kind, { stats: s.columns, label: s.label, ids });
    if (seen.size === 2) expect(seen.get('bullmq')).toEqual(seen.get('local'));
  });
});
