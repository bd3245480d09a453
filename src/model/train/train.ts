// `trainBaseline`: a logistic regression or a small MLP trained in TypeScript on a dataset version
// through its feature spec, calibrated back to true class rates when the data was resampled, and
// registered as a real ONNX model with its lineage and validation metrics. ONNX Runtime loads only
// when the model is registered (the root index must not load it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, InputError, UsageError } from '../../core/errors.ts';
import { loadYaml } from '../../core/config.ts';
import type { Manifest } from '../../core/manifest.ts';
import { assertName } from '../../core/names.ts';
import type { Project } from '../../core/project.ts';
import { parseRef } from '../../core/ref.ts';
import { compileSpec } from '../features/compile.ts';
import { FeatureSpecSchema, isFrozen, specColumns, type FeatureSpec, type FeatureSpecInput } from '../features/spec.ts';
import { freezeSpec } from '../freeze.ts';
import { type ClassWeighting, classWeights, logitShift, samplingRates } from './calibration.ts';
import { binaryClasses, checkTrainable, loadSet, type Classes, type TrainingSet } from './data.ts';
import { exportOnnx, predict } from './export.ts';
import { type EpochReport, type Examples, fit } from './fit.ts';
import { binaryMetrics, type BinaryMetrics } from './metrics.ts';
import { type Arch, initNet, roundToFloat32 } from './net.ts';
import { rng } from './rng.ts';

export interface TrainOptions {
  baseline: Arch;
  /** feature spec: a parsed object or a YAML file path */
  features: FeatureSpecInput | string;
  data: string;
  val?: string;
  label: string;
  /** the positive class (default: 1 or true) */
  positive?: string;
  /** model name (default `<dataset>-<baseline>`) */
  name?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  hidden?: number;
  seed?: number;
  patience?: number;
  classWeights?: ClassWeighting;
  onProgress?: (p: TrainProgress) => void;
}

export type TrainProgress = { phase: 'read'; ref: string; rows: number; total: number } | { phase: 'train'; epoch: number; epochs: number; batch: number; batches: number; valLoss: number | null };

export interface TrainResult {
  model: string;
  dir: string;
  baseline: Arch;
  rows: number;
  skipped: number;
  epochs: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** validation metrics (on the training data, weighted back to true rates, when there is no --val) */
  metrics: BinaryMetrics & { on: string };
  examplesPerSecond: number;
  calibration: { rates: Record<string, number>; recordedIn: string[]; classWeights: Record<string, number>; logitShift: number };
  history: EpochReport[];
  /** the trainer's own calibrated scores for rows laid out as the spec's inputs side by side (not in --json) */
  predict(x: Float32Array, rows: number): Float64Array;
}

/**
 * Trains, calibrates and registers a baseline model.
 * @example await trainBaseline(project, { baseline: 'logistic', features: 'features/ctr.yaml', data: 'ads-train@2', val: 'ads-val@1', label: 'clicked' })
 */
export async function trainBaseline(project: Project, o: TrainOptions): Promise<TrainResult> {
  const hp = hyperparameters(o);
  const m = await project.catalog.resolve(parseRef(o.data));
  const name = assertName(o.name ?? `${m.dataset}-${o.baseline}`, 'model');
  const classes = await binaryClasses(project, m, o.label, o.positive);
  let spec = parseSpec(o.features);
  checkColumns(spec, m, o.label);
  if (!isFrozen(spec)) spec = await freezeSpec(spec, await project.duck(), project.dataDir, m);
  checkTrainable(spec);
  const vm = o.val ? await project.catalog.resolve(parseRef(o.val)) : null;
  if (vm) checkColumns(spec, vm, o.label);
  const valClasses = vm ? await binaryClasses(project, vm, o.label, classes.positive) : null;
  if (valClasses && valClasses.negative !== classes.negative) throw new InputError(`--val ${o.val}: label classes ${Object.keys(valClasses.counts).join(', ')} differ from the training data's ${Object.keys(classes.counts).join(', ')}`);

  // calibration: sampling rates along the lineage × class weights → one logit shift
  const resampling = await samplingRates(project, m, o.label);
  const resampled = Object.values(resampling.rates).some((r) => r !== 1);
  const weights = classWeights(o.label, classes.counts, hp.classWeights, resampled);
  const shift = logitShift(resampling.rates, weights, classes.positive, classes.negative);

  const read = (mm: Manifest) => loadSet(project, mm, spec, o.label, classes, (rows) => o.onProgress?.({ phase: 'read', ref: `${mm.dataset}@${mm.version}`, rows, total: mm.rows }));
  const train = await read(m);
  const trainEx = withWeights(train, classes, weights);
  // validation is scored on true rates: a resampled validation set is weighted back by 1 / rate
  const val = vm ? await read(vm) : null;
  const valEx = vm && val ? withWeights(val, classes, inverse((await samplingRates(project, vm, o.label)).rates)) : null;

  const r = rng(hp.seed);
  let wPos = 0;
  for (let i = 0; i < trainEx.rows; i++) wPos += trainEx.y[i]! * trainEx.w[i]!;
  const wAll = trainEx.w.reduce((s, v) => s + v, 0);
  const net = initNet(o.baseline, train.width, hp.hidden, r, wPos / wAll);
  const batches = Math.ceil(trainEx.rows / hp.batchSize);
  const res = fit(net, trainEx, valEx, r, {
    ...hp,
    shift,
    onEpoch: (e) => o.onProgress?.({ phase: 'train', epoch: e.epoch, epochs: hp.epochs, batch: batches, batches, valLoss: e.valLoss }),
    onBatch: (epoch, batch, batches) => o.onProgress?.({ phase: 'train', epoch, epochs: hp.epochs, batch, batches, valLoss: null }),
  });

  // the exported weights are float32: the metrics are those of the model as served
  const final = roundToFloat32(res.net);
  const evalEx = valEx ?? withWeights(train, classes, inverse(resampling.rates));
  const metrics = { ...binaryMetrics(predict(final, shift, evalEx.x, evalEx.rows), evalEx.y, evalEx.w), on: valEx ? val!.ref : `${train.ref} (training data)` };
  const prefix = valEx ? 'val' : 'train';

  const tmp = mkdtempSync(join(tmpdir(), 'sluice-train-'));
  try {
    const file = join(tmp, 'model.onnx');
    writeFileSync(file, exportOnnx(final, shift, compileSpec(spec).inputs));
    const { addModel } = await import('../registry.ts'); // loads ONNX Runtime, only now
    const added = await addModel(project, {
      file,
      name,
      features: spec,
      labels: [classes.positive],
      // validation data chose the epoch, so its licences count too (a purge lists this model)
      trainedOn: [`${m.dataset}@${m.version}`, ...(vm ? [`${vm.dataset}@${vm.version}`] : [])],
      metrics: {
        [`${prefix}_log_loss`]: metrics.log_loss,
        [`${prefix}_auc`]: metrics.auc,
        [`${prefix}_ece`]: metrics.ece,
        [`${prefix}_mean_score`]: metrics.mean_score,
        [`${prefix}_positive_rate`]: metrics.positive_rate,
        epochs: res.history.length,
        best_epoch: res.bestEpoch,
        train_rows: train.rows,
        calibration_logit_shift: shift,
      },
    });
    return {
      model: added.ref,
      dir: added.dir,
      baseline: o.baseline,
      rows: train.rows,
      skipped: train.skipped,
      epochs: res.history.length,
      bestEpoch: res.bestEpoch,
      stoppedEarly: res.stoppedEarly,
      metrics,
      examplesPerSecond: res.examplesPerSecond,
      calibration: { rates: resampling.rates, recordedIn: resampling.recordedIn, classWeights: weights, logitShift: shift },
      history: res.history,
      predict: (x, rows) => predict(final, shift, x, rows),
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function hyperparameters(o: TrainOptions) {
  if (o.baseline !== 'logistic' && o.baseline !== 'mlp') throw new UsageError(`--baseline ${JSON.stringify(o.baseline)}: choose logistic or mlp`);
  const hp = { epochs: o.epochs ?? 20, batchSize: o.batchSize ?? 256, lr: o.lr ?? 0.01, hidden: o.hidden ?? 64, seed: o.seed ?? 0, patience: o.patience ?? 3, classWeights: o.classWeights ?? 'auto' };
  const int = (k: string, v: number, lo: number, hi: number) => {
    if (!(Number.isInteger(v) && v >= lo && v <= hi)) throw new UsageError(`--${k} must be a whole number in ${lo}…${hi}, got ${v}`);
  };
  int('epochs', hp.epochs, 1, 10_000);
  int('batch-size', hp.batchSize, 1, 1 << 20);
  int('hidden', hp.hidden, 1, 4096);
  int('patience', hp.patience, 1, 10_000);
  int('seed', hp.seed, 0, 2 ** 32 - 1);
  if (!(hp.lr > 0 && hp.lr < 10)) throw new UsageError(`--lr must be a number in (0, 10), got ${hp.lr}`);
  if (!['auto', 'none', 'inverse', 'effective'].includes(hp.classWeights)) throw new UsageError(`--class-weights ${JSON.stringify(hp.classWeights)}: choose auto, none, inverse or effective`);
  return hp;
}

function parseSpec(input: FeatureSpecInput | string): FeatureSpec {
  if (typeof input === 'string') return loadYaml(input, FeatureSpecSchema);
  const r = FeatureSpecSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ConfigError(`feature spec: ${i?.path.join('.') || '(root)'}: ${i?.message}`, { hint: 'see docs/features.md for the spec format' });
  }
  return r.data;
}

function checkColumns(spec: FeatureSpec, m: Manifest, label: string): void {
  const ref = `${m.dataset}@${m.version}`;
  const cols = specColumns(spec);
  if (cols.includes(label)) throw new ConfigError(`the feature spec reads the label column ${JSON.stringify(label)}: the model would learn the answer`, { hint: 'remove it from the features' });
  const missing = cols.filter((c) => !m.schema.some((s) => s.name === c));
  if (missing.length) throw new InputError(`${ref} has no column ${missing.map((c) => JSON.stringify(c)).join(', ')}, which the feature spec reads`, { hint: `its columns: ${m.schema.map((c) => c.name).join(', ')}` });
}

/** Per-row weights from per-class weights. */
function withWeights(s: TrainingSet, c: Classes, byClass: Record<string, number>): Examples {
  const wp = byClass[c.positive] ?? 1;
  const wn = byClass[c.negative] ?? 1;
  return { x: s.x, y: s.y, rows: s.rows, w: Float32Array.from(s.y, (y) => (y > 0.5 ? wp : wn)) };
}

const inverse = (rates: Record<string, number>) => Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, 1 / v]));
