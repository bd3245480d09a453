// The training loop: seeded shuffles, mini-batch Adam on the weighted cross-entropy, and early
// stopping on the validation log loss (the best epoch's weights are kept).
import { adam } from './adam.ts';
import { binaryMetrics } from './metrics.ts';
import { type Net, backward } from './net.ts';
import { predict } from './export.ts';
import { type Rng, shuffle } from './rng.ts';

export interface Examples {
  x: Float32Array;
  y: Float32Array;
  /** per-row weight (class weights in training, true-rate weights in validation) */
  w: Float32Array;
  rows: number;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  /** epochs without a better validation loss before stopping */
  patience: number;
  /** the prior correction applied to scores when validating */
  shift: number;
  onEpoch?: (e: EpochReport) => void;
  /** called every few batches within an epoch */
  onBatch?: (epoch: number, done: number, total: number) => void;
}

export interface EpochReport {
  epoch: number;
  trainLoss: number;
  valLoss: number | null;
  seconds: number;
}

export interface FitResult {
  net: Net;
  history: EpochReport[];
  bestEpoch: number;
  stoppedEarly: boolean;
  /** training examples per second over all epochs (forward, backward and update) */
  examplesPerSecond: number;
}

export function fit(net: Net, train: Examples, val: Examples | null, r: Rng, o: FitOptions): FitResult {
  const grad = new Float64Array(net.params.length);
  const opt = adam(net.params.length, o.lr);
  const order = Uint32Array.from({ length: train.rows }, (_, i) => i);
  const history: EpochReport[] = [];
  let best = { loss: Infinity, epoch: 0, params: net.params.slice() };
  let seconds = 0;
  let stoppedEarly = false;
  const batches = Math.ceil(train.rows / o.batchSize);
  let totalWeight = 0;
  for (let i = 0; i < train.rows; i++) totalWeight += train.w[i]!;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const t0 = performance.now();
    shuffle(order, r);
    let loss = 0;
    for (let b = 0; b < batches; b++) {
      const from = b * o.batchSize;
      const to = Math.min(train.rows, from + o.batchSize);
      grad.fill(0);
      loss += backward(net, train.x, train.y, train.w, order, from, to, grad);
      opt.step(net.params, grad);
      if (o.onBatch && (b & 15) === 15) o.onBatch(epoch, b + 1, batches);
    }
    const s = (performance.now() - t0) / 1000;
    seconds += s;
    const valLoss = val ? binaryMetrics(predict(net, o.shift, val.x, val.rows), val.y, val.w).log_loss : null;
    const report = { epoch, trainLoss: loss / totalWeight, valLoss, seconds: s };
    history.push(report);
    o.onEpoch?.(report);
    const score = valLoss ?? -epoch; // without validation data the last epoch is the best
    if (score < best.loss) best = { loss: score, epoch, params: net.params.slice() };
    else if (val && epoch - best.epoch >= o.patience) {
      stoppedEarly = true;
      break;
    }
  }
  net.params.set(best.params);
  return { net, history, bestEpoch: best.epoch, stoppedEarly, examplesPerSecond: (train.rows * history.length) / Math.max(seconds, 1e-9) };
}
