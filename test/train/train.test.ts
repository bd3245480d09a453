// The baseline trainer end to end: it learns a synthetic rule, calibrates a model trained on 10×
// oversampled positives back to the true rate, and its ONNX model scores exactly as it does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebalanceVersion } from '../../src/analyze/rebalance.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { parseRef } from '../../src/core/ref.ts';
import { OnnxBackend } from '../../src/model/backends/onnx.ts';
import { runInference } from '../../src/model/infer/plan.ts';
import { loadModel } from '../../src/model/registry.ts';
import { binaryClasses, loadSet } from '../../src/model/train/data.ts';
import { auc } from '../../src/model/train/metrics.ts';
import { trainBaseline } from '../../src/model/train/train.ts';
import { fixture, type Fixture } from '../model/fixture.ts';
import { SPEC, syntheticSql } from './synthetic.ts';

let f: Fixture;
let rate = 0;

/** Scores `data` with the registered model through batch inference (the served path) → [score, clicked]. */
async function scored(model: string, data: string): Promise<{ s: number[]; y: number[] }> {
  const out = `scored-${model.replace('@', '-')}-${data.replace('@', '-')}`;
  await runInference(f.project, { model, data, output: out, keep: ['clicked'] }, f.runner);
  const m = await f.project.catalog.resolve(parseRef(out));
  const rows = await (await f.project.duck()).all<{ score: number; clicked: number }>(`SELECT score, clicked FROM (${scanSql(f.project.dataDir, m)}) ORDER BY _id`);
  return { s: rows.map((r) => r.score), y: rows.map((r) => r.clicked) };
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

beforeAll(async () => {
  f = await fixture(1);
  await f.dataset('ads-train', syntheticSql(20_000, 1));
  await f.dataset('ads-val', syntheticSql(5_000, 2));
  await f.dataset('ads-test', syntheticSql(10_000, 3));
  const counts = (await binaryClasses(f.project, await f.project.catalog.resolve(parseRef('ads-train@1')), 'clicked')).counts;
  // grow the positives to 10× their count: ratio = 10·pos / neg of the largest class
  const m = await rebalanceVersion(f.project, 'ads-train@1', { label: 'clicked', oversample: (10 * counts['1']!) / counts['0']!, seed: 7, out: 'ads-over' });
  rate = (m.extra!.rebalance as { rates: Record<string, number> }).rates['1']!;
}, 60_000);
afterAll(async () => f.close());

describe.each(['logistic', 'mlp'] as const)('sluice train --baseline %s', (baseline) => {
  it('learns the synthetic rule: AUC at least 0.9 on held-out data, with lineage and metrics in model.yaml', async () => {
    const r = await trainBaseline(f.project, { baseline, features: SPEC, data: 'ads-train@1', val: 'ads-val@1', label: 'clicked', name: `ctr-${baseline}`, seed: 1, epochs: 15 });
    expect(r.model).toBe(`ctr-${baseline}@1`);
    expect(r.rows).toBe(20_000);
    expect(r.metrics.auc).toBeGreaterThanOrEqual(0.9);
    const { s, y } = await scored(r.model, 'ads-test@1');
    expect(s.length).toBe(10_000);
    expect(auc(s, y)).toBeGreaterThanOrEqual(0.9);
    const meta = (await loadModel(f.project, r.model)).meta;
    expect(meta.trained_on.map((t) => t.dataset)).toEqual(['ads-train@1', 'ads-val@1']);
    expect(meta.features?.frozen_from).toBe('ads-train@1');
    expect(meta.labels).toEqual(['1']);
    expect(meta.outputs).toEqual([{ name: 'score', type: 'float32', dims: ['N', 1] }]);
    expect(Object.keys(meta.metrics).sort()).toEqual(['best_epoch', 'calibration_logit_shift', 'epochs', 'train_rows', 'val_auc', 'val_ece', 'val_log_loss', 'val_mean_score', 'val_positive_rate']);
    expect(meta.metrics.val_auc).toBe(r.metrics.auc);
    // 6% positives: the analyze stage's balance suggests class weights; inverse weights act like
    // sampling the positives at n_neg / n_pos, and the graph takes that back out
    const { counts } = await binaryClasses(f.project, await f.project.catalog.resolve(parseRef('ads-train@1')), 'clicked');
    expect(r.calibration.classWeights).toEqual({ '0': 20_000 / (2 * counts['0']!), '1': 20_000 / (2 * counts['1']!) });
    expect(meta.metrics.calibration_logit_shift).toBeCloseTo(-Math.log(counts['0']! / counts['1']!), 12);
    expect(r.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(r.bestEpoch).toBeLessThanOrEqual(r.epochs);
  });

  it('calibrates a model trained on 10× oversampled positives back to the true rate within 2 points', async () => {
    expect(rate).toBeCloseTo(10, 2);
    const r = await trainBaseline(f.project, { baseline, features: SPEC, data: 'ads-over@1', val: 'ads-val@1', label: 'clicked', name: `over-${baseline}`, seed: 1, epochs: 15 });
    expect(r.calibration.rates).toEqual({ '0': 1, '1': rate });
    expect(r.calibration.recordedIn).toEqual(['ads-over@1']);
    expect(r.calibration.classWeights).toEqual({ '0': 1, '1': 1 });
    expect(r.calibration.logitShift).toBeCloseTo(-Math.log(rate), 12);
    const { s, y } = await scored(r.model, 'ads-test@1');
    const truth = mean(y);
    expect(truth).toBeGreaterThan(0.04);
    expect(truth).toBeLessThan(0.08);
    expect(Math.abs(mean(s) - truth)).toBeLessThan(0.02);
    // without the correction the scores would sit far above the true rate
    const raw = s.map((p) => 1 / (1 + (1 / p - 1) / rate));
    expect(mean(raw) - truth).toBeGreaterThan(0.05);
  });

  it('exports an ONNX model whose outputs equal the trainer\'s own predictions to 1e-6', async () => {
    const r = await trainBaseline(f.project, { baseline, features: SPEC, data: 'ads-over@1', label: 'clicked', name: `exact-${baseline}`, seed: 3, epochs: 3 });
    const model = await loadModel(f.project, r.model);
    const test = await f.project.catalog.resolve(parseRef('ads-test@1'));
    const classes = await binaryClasses(f.project, test, 'clicked');
    const set = await loadSet(f.project, test, model.meta.features!, 'clicked', classes);
    const ours = r.predict(set.x, set.rows);
    const backend = await OnnxBackend.open(model.path, model.meta.sha256, 1);
    const out = await backend.run({ x: { type: 'float32', data: set.x, dims: [set.rows, set.width] } });
    const theirs = out.score!.data as Float32Array;
    expect(theirs.length).toBe(10_000);
    let worst = 0;
    for (let i = 0; i < set.rows; i++) worst = Math.max(worst, Math.abs(theirs[i]! - ours[i]!));
    expect(worst).toBeLessThan(1e-6);
    expect(r.calibration.logitShift).not.toBe(0);
  });
});
