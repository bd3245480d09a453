// Batch inference end to end: a registered MLP scores a dataset version into a new version, failed
// rows go to `<output>-deadletter` with their reason, and ONNX Runtime's scores equal a JS reference.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addModel } from '../../src/model/registry.ts';
import { runInference } from '../../src/model/infer/plan.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { dyadicMlp, type Fixture, fixture, linearMlpFile, referenceMlp } from './fixture.ts';

const F = Array.from({ length: 32 }, (_, j) => `f${j}`);
const value = (i: number, j: number) => (((i * 3 + j * 5) % 9) - 4) / 4;
const rowSql = (from: number, to: number) =>
  `SELECT range AS k, ${F.map((f, j) => `CASE WHEN ${j} = 3 AND range % 97 = 5 THEN NULL ELSE ((((range * 3 + ${j * 5}) % 9) - 4) / 4)::FLOAT END AS ${f}`).join(', ')} FROM range(${from}, ${to})`;
const spec = { inputs: [{ name: 'x', features: F.map((f) => ({ number: f })) }] };

let fx: Fixture;
beforeEach(async () => {
  fx = await fixture();
});
afterEach(async () => fx.close());

describe('batch inference', () => {
  it('scores every row with the MLP, equal to the JS reference, and dead-letters rows with a NULL feature', async () => {
    await fx.dataset('pool', rowSql(0, 3000), rowSql(3000, 5000));
    const w = dyadicMlp([32, 64, 1]);
    await addModel(fx.project, { file: linearMlpFile(fx, w), name: 'mlp', features: spec });
    const { manifest, deadletter } = await runInference(fx.project, { model: 'mlp@1', data: 'pool@1', output: 'scored', batchSize: 1000 }, fx.runner);
    const bad = Array.from({ length: 5000 }, (_, i) => i).filter((i) => i % 97 === 5);
    expect(manifest.rows).toBe(5000 - bad.length);
    expect(manifest.parts).toHaveLength(2);
    const duck = await fx.project.duck();
    const rows = await duck.all<{ k: number; y: number }>(`SELECT k, y FROM (${scanSql(fx.project.dataDir, manifest)}) ORDER BY k`);
    expect(rows).toHaveLength(5000 - bad.length);
    let mismatches = 0;
    for (const r of rows) {
      const want = referenceMlp(w, F.map((_, j) => value(r.k, j)))[0]!;
      if (r.y !== want) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(deadletter?.dataset).toBe('scored-deadletter');
    expect(deadletter?.rows).toBe(bad.length);
    const dl = await duck.all<{ k: number; _reason: string }>(`SELECT k, _reason FROM (${scanSql(fx.project.dataDir, deadletter!)}) ORDER BY k`);
    expect(dl.map((r) => r.k)).toEqual(bad);
    expect(dl[0]!._reason).toBe('feature f3: missing value (NULL) and no fill rule');
    // _id survives: output ids plus dead-letter ids are exactly the input ids
    const ids = await duck.all<{ n: number }>(
      `SELECT count(*)::INT AS n FROM ((SELECT _id FROM (${scanSql(fx.project.dataDir, manifest)}) UNION ALL SELECT _id FROM (${scanSql(fx.project.dataDir, deadletter!)})) ` +
        `EXCEPT SELECT _id FROM (${scanSql(fx.project.dataDir, await fx.project.catalog.manifest('pool', 1))}))`,
    );
    expect(ids[0]!.n).toBe(0);
  });
});
