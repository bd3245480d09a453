// Validation metrics of a binary scorer: log loss, ROC AUC and expected calibration error, each
// with optional per-row weights (a resampled set is weighted back to its true class rates).

const EPS = 1e-15;

export interface BinaryMetrics {
  log_loss: number;
  auc: number;
  /** expected calibration error over 10 equal-width score bins */
  ece: number;
  /** weighted mean score and positive rate: a calibrated model has them close */
  mean_score: number;
  positive_rate: number;
}

/**
 * Metrics of scores `p` (probabilities) for labels `y` (0/1).
 * @example binaryMetrics(Float64Array.of(0.9, 0.2), Float32Array.of(1, 0)).auc // 1
 */
export function binaryMetrics(p: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>, bins = 10): BinaryMetrics {
  const n = p.length;
  let total = 0;
  let loss = 0;
  let sumP = 0;
  let sumY = 0;
  const binW = new Float64Array(bins);
  const binP = new Float64Array(bins);
  const binY = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i]! : 1;
    const pi = Math.min(Math.max(p[i]!, EPS), 1 - EPS);
    const yi = y[i]!;
    total += wi;
    loss -= wi * (yi * Math.log(pi) + (1 - yi) * Math.log(1 - pi));
    sumP += wi * p[i]!;
    sumY += wi * yi;
    const b = Math.min(bins - 1, Math.floor(p[i]! * bins));
    binW[b] = binW[b]! + wi;
    binP[b] = binP[b]! + wi * p[i]!;
    binY[b] = binY[b]! + wi * yi;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (binW[b]! > 0) ece += Math.abs(binP[b]! - binY[b]!) / total;
  return { log_loss: loss / total, auc: auc(p, y, w), ece, mean_score: sumP / total, positive_rate: sumY / total };
}

/** ROC AUC as the weighted Mann–Whitney statistic: P(score of a positive > score of a negative), ties count half. */
export function auc(p: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): number {
  const order = Array.from({ length: p.length }, (_, i) => i).sort((a, b) => p[a]! - p[b]!);
  let negBelow = 0;
  let pos = 0;
  let neg = 0;
  let sum = 0;
  for (let i = 0; i < order.length; ) {
    // one group of tied scores at a time
    let j = i;
    let gPos = 0;
    let gNeg = 0;
    while (j < order.length && p[order[j]!] === p[order[i]!]) {
      const k = order[j]!;
      const wk = w ? w[k]! : 1;
      if (y[k]! > 0.5) gPos += wk;
      else gNeg += wk;
      j++;
    }
    sum += gPos * (negBelow + gNeg / 2);
    negBelow += gNeg;
    pos += gPos;
    neg += gNeg;
    i = j;
  }
  return pos > 0 && neg > 0 ? sum / (pos * neg) : NaN;
}
