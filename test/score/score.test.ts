// Bulk scoring: on the local runner and on BullMQ workers, the top k per context equals a brute-force
// sort of every candidate × context pair scored by ONNX Runtime directly (ties: earlier candidate
// first), with --rank-by over a candidate and a context column; bad input gives clear errors.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../src/engine/execute.ts';
import { lit } from '../../src/engine/duckdb.ts';
import type { Runner } from '../../src/engine/plan.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { importFiles } from '../../src/io/import.ts';
import { encodeModel, mlpModel } from '../../src/model/onnx/build.ts';
import { addModel } from '../../src/model/registry.ts';
import { scoreCandidates } from '../../src/score/plan.ts';
import { killWorkers, rowsOf, startWorkers, testEnv, type TestEnv, type WorkerProcess } from '../runners/harness.ts';
import { dyadicMlp } from '../model/fixture.ts';

const N = 300;
const a = (i: number) => (((i * 7) % 17) - 8) / 8;
const b = (i: number) => (((i * 5) % 13) - 6) / 4;
const bid = (i: number) => 1 + (i % 5) / 4;
const CANDS = `SELECT 'c' || i AS cid, (((i * 7) % 17) - 8) / 8 :: FLOAT AS a, ((((i * 5) % 13) - 6) / 4)::FLOAT AS b, (1 + (i % 5) / 4)::DOUBLE AS bid FROM range(${N}) r(i)`;
const U = [0.5, -1.25, 2, 0];
const W = [0, 0.25, -0.5, 1];
const CTXS = `SELECT * FROM (VALUES ${U.map((u, j) => `('u${j}', ${u}::FLOAT, ${W[j]}::DOUBLE)`).join(', ')}) t(uid, u, w)`;
const K = 5;
const weights = dyadicMlp([3, 8, 1]);

/** Every pair through ONNX Runtime directly, sorted by rank value, earlier candidate first on ties. */
async function bruteForce(file: string): Promise<unknown[]> {
  const session = await ort.InferenceSession.create(file);
  const x = new Float32Array(N * U.length * 3);
  for (let j = 0; j < U.length; j++) for (let i = 0; i < N; i++) x.set([a(i), U[j]!, b(i)], (j * N + i) * 3);
  const y = (await session.run({ x: new ort.Tensor('float32', x, [N * U.length, 3]) })).y!.data as Float32Array;
  const out: unknown[] = [];
  for (let j = 0; j < U.length; j++) {
    const pairs = Array.from({ length: N }, (_, i) => ({ i, score: y[j * N + i]!, value: bid(i) * y[j * N + i]! + W[j]! }));
    pairs.sort((p, q) => q.value - p.value || p.i - q.i);
    pairs.slice(0, K).forEach((p, r) => out.push({ context_id: `u${j}`, rank: r + 1, candidate_id: `c${p.i}`, score: p.score, rank_value: p.value, model: 'ctr@1' }));
  }
  return out;
}

describe.each(['local', 'bullmq'] as const)('score on the %s runner', (kind) => {
  let env: TestEnv;
  let workers: WorkerProcess[] = [];
  let runner: Runner;
  let modelFile: string;

  beforeAll(async () => {
    env = await testEnv(`score-${kind}`);
    const duck = await env.project.duck();
    const files = [0, 1].map((p) => join(env.dir, `cands${p}.parquet`));
    for (const [p, f] of files.entries()) await duck.run(`COPY (SELECT * FROM (${CANDS}) WHERE ${p ? '' : 'NOT'} (substr(cid, 2)::INT >= ${N / 2}) ORDER BY substr(cid, 2)::INT) TO ${lit(f)} (FORMAT parquet)`);
    const local = new LocalRunner(duck, env.project.catalog);
    await importFiles(env.project, { name: 'ads', files }, local);
    const ctxFile = join(env.dir, 'users.parquet');
    await duck.run(`COPY (${CTXS}) TO ${lit(ctxFile)} (FORMAT parquet)`);
    await importFiles(env.project, { name: 'users', files: [ctxFile] }, local);
    modelFile = join(env.dir, 'ctr.onnx');
    writeFileSync(modelFile, encodeModel(mlpModel(weights, { input: 'x', output: 'y' }, 'none')));
    await addModel(env.project, { file: modelFile, name: 'ctr', features: { inputs: [{ name: 'x', features: [{ number: 'a' }, { number: 'u' }, { number: 'b' }] }] } });
    if (kind === 'bullmq') workers = await startWorkers(2, env.queue, { lockMs: 5000, dir: env.dir });
    runner = await makeRunner(env.project, kind === 'local' ? 'local' : 'redis://127.0.0.1:6379', { queue: env.queue });
  }, 60_000);
  afterAll(async () => {
    await runner?.close?.();
    await killWorkers(workers);
    await env?.cleanup();
  });

  it('keeps exactly the brute-force top k per context, ranked by bid * score + w', async () => {
    const r = await scoreCandidates(env.project, { model: 'ctr@1', candidates: 'ads@1', contexts: 'users@1', k: K, rankBy: 'bid * score + w', candidateId: 'cid', contextId: 'uid', rowsPerTask: 100 }, runner);
    expect(r.manifest.dataset).toBe('ads-scores');
    expect([r.candidates, r.pairs, r.failedCandidates]).toEqual([N, N * U.length, 0]);
    expect(r.manifest.parents).toEqual(['ads@1', 'users@1']);
    const rows = (await rowsOf(env.project, 'ads-scores', r.manifest.version)).sort((p, q) => String(p.context_id).localeCompare(String(q.context_id)) || Number(p.rank) - Number(q.rank));
    expect(rows.map((x) => x._id)).toEqual(rows.map((x) => `${x.context_id}/${x.candidate_id}`));
    expect(rows.map(({ _id, ...rest }) => rest)).toEqual(await bruteForce(modelFile));
  }, 60_000);
});

describe('score input checks', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await testEnv('score-checks');
    const duck = await env.project.duck();
    const f = join(env.dir, 'c.parquet');
    await duck.run(`COPY (${CANDS}) TO ${lit(f)} (FORMAT parquet)`);
    const local = new LocalRunner(duck, env.project.catalog);
    await importFiles(env.project, { name: 'ads', files: [f] }, local);
    const g = join(env.dir, 'u.parquet');
    await duck.run(`COPY (${CTXS}) TO ${lit(g)} (FORMAT parquet)`);
    await importFiles(env.project, { name: 'users', files: [g] }, local);
    const file = join(env.dir, 'ctr.onnx');
    writeFileSync(file, encodeModel(mlpModel(weights, { input: 'x', output: 'y' }, 'none')));
    await addModel(env.project, { file, name: 'ctr', features: { inputs: [{ name: 'x', features: [{ number: 'a' }, { number: 'u' }, { number: 'b' }] }] } });
  }, 60_000);
  afterAll(async () => env?.cleanup());

  const run = (o: Partial<Parameters<typeof scoreCandidates>[1]>) =>
    scoreCandidates(env.project, { model: 'ctr@1', candidates: 'ads@1', contexts: 'users@1', k: 3, ...o }, new LocalRunner(null as never, env.project.catalog));

  it('names an unknown --rank-by column and the columns it could use', async () => {
    await expect(run({ rankBy: 'price * score' })).rejects.toThrow(/--rank-by "price \* score": unknown column "price"/);
    await expect(run({ rankBy: 'bid * (score' })).rejects.toThrow(/expected "\)" at the end/);
    await expect(run({ rankBy: 'eval(score)' })).rejects.toThrow(/unknown function eval/);
  });

  it('refuses k ≤ 0, a missing model and a feature column nobody has', async () => {
    await expect(run({ k: 0 })).rejects.toThrow('--top-k must be a whole number ≥ 1, got 0');
    await expect(run({ model: 'nope@1' })).rejects.toThrow(/no model "nope"/);
    await expect(run({ contexts: 'ads@1', candidates: 'ads@1' })).rejects.toThrow(/column "u", which neither the candidates nor the contexts have/);
    await expect(run({ contextId: 'uid', candidates: 'users@1', contexts: 'users@1', model: 'ctr@1' })).rejects.toThrow(/column "a"/);
  });
});

describe('score with mixed inputs and failing rows', () => {
  let env: TestEnv;
  let file: string;
  const w5 = dyadicMlp([5, 8, 1]);
  beforeAll(async () => {
    env = await testEnv('score-mixed');
    const duck = await env.project.duck();
    const local = new LocalRunner(duck, env.project.catalog);
    const f = join(env.dir, 'c.parquet');
    // candidate 7 has a NULL feature: it is counted as failed and never ranked
    await duck.run(`COPY (SELECT * REPLACE (CASE WHEN substr(cid, 2)::INT = 7 THEN NULL ELSE a END AS a) FROM (${CANDS}) ORDER BY substr(cid, 2)::INT) TO ${lit(f)} (FORMAT parquet)`);
    await importFiles(env.project, { name: 'ads', files: [f] }, local);
    const g = join(env.dir, 'u.parquet');
    await duck.run(`COPY (SELECT * FROM (VALUES ('u0', 'x'), ('u1', 'y'), ('u2', NULL), ('u3', 'zz')) t(uid, seg)) TO ${lit(g)} (FORMAT parquet)`);
    await importFiles(env.project, { name: 'users', files: [g] }, local);
    file = join(env.dir, 'm5.onnx');
    writeFileSync(file, encodeModel(mlpModel(w5, { input: 'x', output: 'y' }, 'none')));
    const spec = { inputs: [{ name: 'x', features: [{ number: 'a' }, { category: 'seg', vocab: ['x', 'y'], encode: 'one_hot' as const }, { number: 'b' }] }] };
    await addModel(env.project, { file, name: 'mix', features: spec });
  }, 60_000);
  afterAll(async () => env?.cleanup());

  it('interleaves a one-hot context category between candidate numbers, like a direct model run', async () => {
    const r = await scoreCandidates(env.project, { model: 'mix@1', candidates: 'ads@1', contexts: 'users@1', k: 4, candidateId: 'cid', contextId: 'uid', rowsPerTask: 128 }, new LocalRunner(await env.project.duck(), env.project.catalog));
    expect([r.candidates, r.failedCandidates, r.failedContexts]).toEqual([N, 1, []]);
    const session = await ort.InferenceSession.create(file);
    const segs = [[0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0]]; // NULL and an unknown value take the out-of-vocabulary slot 0
    const live = Array.from({ length: N }, (_, i) => i).filter((i) => i !== 7);
    const want: unknown[] = [];
    for (const [j, oh] of segs.entries()) {
      const x = new Float32Array(live.length * 5);
      live.forEach((i, n) => x.set([a(i), ...oh, b(i)], n * 5));
      const y = (await session.run({ x: new ort.Tensor('float32', x, [live.length, 5]) })).y!.data as Float32Array;
      const pairs = live.map((i, n) => ({ i, s: y[n]! })).sort((p, q) => q.s - p.s || p.i - q.i);
      pairs.slice(0, 4).forEach((p, rank) => want.push({ context_id: `u${j}`, rank: rank + 1, candidate_id: `c${p.i}`, score: p.s, rank_value: p.s, model: 'mix@1' }));
    }
    const rows = (await rowsOf(env.project, 'ads-scores', r.manifest.version)).sort((p, q) => String(p.context_id).localeCompare(String(q.context_id)) || Number(p.rank) - Number(q.rank));
    expect(rows.map(({ _id, ...rest }) => rest)).toEqual(want);
  }, 60_000);
});
