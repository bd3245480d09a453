// The trainer's parts with exact answers: metrics on hand-checked cases, the prior correction,
// sampling rates found along a version's lineage, and the same model bit for bit for a seed.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebalanceVersion } from '../../src/analyze/rebalance.ts';
import { splitVersion } from '../../src/analyze/split.ts';
import { parseRef } from '../../src/core/ref.ts';
import { loadModel } from '../../src/model/registry.ts';
import { classWeights, logitShift, samplingRates } from '../../src/model/train/calibration.ts';
import { auc, binaryMetrics } from '../../src/model/train/metrics.ts';
import { trainBaseline } from '../../src/model/train/train.ts';
import { fixture, type Fixture } from '../model/fixture.ts';
import { SPEC, syntheticSql } from './synthetic.ts';

let f: Fixture;
beforeAll(async () => {
  f = await fixture(1);
  await f.dataset('ads', syntheticSql(3_000, 9));
}, 60_000);
afterAll(async () => f.close());

describe('metrics', () => {
  it('AUC counts ties as half and weights rows', () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(auc([0.5, 0.5, 0.5], [0, 1, 1])).toBe(0.5);
    // negative 0.4 weighs 3: positive 0.35 beats only 0.1 (weight 1), 0.8 beats both (weight 4), over 2 × 4
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], [1, 3, 1, 1])).toBe((1 + 4) / 8);
  });

  it('log loss, ECE and the mean score are exact on a small case', () => {
    const m = binaryMetrics([0.2, 0.2, 0.9, 0.9], [0, 1, 1, 1]);
    expect(m.log_loss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.2) + 2 * Math.log(0.9)) / 4, 12);
    // bin 0.2: score 0.2 vs rate 0.5 (share ½); bin 0.9: 0.9 vs 1 (share ½)
    expect(m.ece).toBeCloseTo(0.5 * 0.3 + 0.5 * 0.1, 12);
    expect(m.mean_score).toBeCloseTo(0.55, 12);
    expect(m.positive_rate).toBe(0.75);
  });
});

describe('calibration', () => {
  it('shifts the logit by −ln k for positives oversampled k×, and by class weights like rates', () => {
    expect(logitShift({ '1': 10, '0': 1 }, {}, '1', '0')).toBeCloseTo(-Math.log(10), 12);
    expect(logitShift({ '1': 1, '0': 0.25 }, {}, '1', '0')).toBeCloseTo(Math.log(0.25), 12);
    expect(logitShift({}, { '1': 5, '0': 0.5 }, '1', '0')).toBeCloseTo(-Math.log(10), 12);
    expect(logitShift({}, {}, '1', '0')).toBe(0);
  });

  it('takes class weights from the label balance unless the data was resampled', () => {
    expect(classWeights('y', { '0': 900, '1': 100 }, 'auto', false)).toEqual({ '0': 1000 / 1800, '1': 5 });
    expect(classWeights('y', { '0': 900, '1': 100 }, 'auto', true)).toEqual({ '0': 1, '1': 1 });
    expect(classWeights('y', { '0': 510, '1': 490 }, 'auto', false)).toEqual({ '0': 1, '1': 1 });
  });

  it('finds the sampling rates through a split of a rebalanced version, chained rebalances multiplying', async () => {
    await rebalanceVersion(f.project, 'ads@1', { label: 'clicked', oversample: 0.2, seed: 1, out: 'over' });
    await rebalanceVersion(f.project, 'over@1', { label: 'clicked', undersample: 0.5, seed: 1, out: 'over-under' });
    await splitVersion(f.project, 'over-under@1', { ratios: [0.8, 0.2], names: ['train', 'test'], seed: 1 });
    const r1 = (await f.project.catalog.resolve(parseRef('over@1'))).extra!.rebalance as { rates: Record<string, number> };
    const r2 = (await f.project.catalog.resolve(parseRef('over-under@1'))).extra!.rebalance as { rates: Record<string, number> };
    const found = await samplingRates(f.project, await f.project.catalog.resolve(parseRef('over-under-train@1')), 'clicked');
    expect(found.recordedIn).toEqual(['over-under@1', 'over@1']);
    expect(found.rates).toEqual({ '0': r1.rates['0']! * r2.rates['0']!, '1': r1.rates['1']! * r2.rates['1']! });
    expect(await samplingRates(f.project, await f.project.catalog.resolve(parseRef('ads@1')), 'clicked')).toEqual({ rates: {}, recordedIn: [] });
  });
});

describe('determinism', () => {
  it('the same seed trains the same model bit for bit; another seed does not', async () => {
    const opts = { baseline: 'mlp', features: SPEC, data: 'ads@1', label: 'clicked', epochs: 2, hidden: 8 } as const;
    const a = await trainBaseline(f.project, { ...opts, name: 'a', seed: 5 });
    const b = await trainBaseline(f.project, { ...opts, name: 'b', seed: 5 });
    const c = await trainBaseline(f.project, { ...opts, name: 'c', seed: 6 });
    const sha = async (ref: string) => (await loadModel(f.project, ref)).meta.sha256;
    expect(await sha(b.model)).toBe(await sha(a.model));
    expect(await sha(c.model)).not.toBe(await sha(a.model));
  });
});

describe('the root API', () => {
  it('exports trainBaseline without loading ONNX Runtime until a model is registered', () => {
    const script = join(f.dir, 'root-import.mts');
    const index = resolve('src/index.ts');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';\n` +
        `const api = await import(${JSON.stringify(index)});\n` +
        `console.log(typeof api.trainBaseline, /onnxruntime/.test(readFileSync('/proc/self/maps', 'utf8')));\n`,
    );
    expect(execFileSync(process.execPath, [resolve('bin/run-ts.js'), script], { encoding: 'utf8' }).trim()).toBe('function false');
  });
});
