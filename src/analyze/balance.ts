// Class balance: counts, imbalance ratio, class weights (inverse frequency and effective number
// of samples), a suggested resampling, and calibrating scores back after resampling.
import { InputError } from '../core/errors.ts';

export interface ClassCount {
  value: string;
  count: number;
  share: number;
}

export interface LabelStats {
  column: string;
  classes: ClassCount[];
  /** largest class count / smallest class count */
  imbalanceRatio: number;
  weights: { inverse: Record<string, number>; effective: Record<string, number>; beta: number };
  suggestion: { method: 'none' | 'weights' | 'oversample'; text: string; args: string[] };
}

/** β of the effective number of samples (Cui et al., CVPR 2019). */
export const EFFECTIVE_BETA = 0.999;

/**
 * Balance of a label from its class counts.
 * @example labelStats('y', { a: 90, b: 10 }).weights.inverse // { a: 0.5556, b: 5 }
 */
export function labelStats(column: string, counts: Record<string, number>, beta = EFFECTIVE_BETA): LabelStats {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const total = entries.reduce((s, [, n]) => s + n, 0);
  const k = entries.length;
  const classes = entries.map(([value, count]) => ({ value, count, share: count / total }));
  // inverse frequency, scaled so that the weighted count of every class is total / k
  const inverse = Object.fromEntries(entries.map(([v, n]) => [v, total / (k * n)]));
  // effective number E_n = (1 - β^n) / (1 - β); weights ∝ 1/E_n, scaled to sum to k
  const raw = entries.map(([v, n]) => [v, (1 - beta) / (1 - beta ** n)] as const);
  const sum = raw.reduce((s, [, w]) => s + w, 0);
  const effective = Object.fromEntries(raw.map(([v, w]) => [v, (w * k) / sum]));
  const max = entries[0]?.[1] ?? 0;
  const min = entries[entries.length - 1]?.[1] ?? 0;
  const imbalanceRatio = min > 0 ? max / min : Infinity;
  return { column, classes, imbalanceRatio, weights: { inverse, effective, beta }, suggestion: suggest(column, imbalanceRatio) };
}

function suggest(column: string, ratio: number): LabelStats['suggestion'] {
  if (ratio <= 1.5) return { method: 'none', text: 'classes are balanced: no resampling needed', args: [] };
  if (ratio <= 10) {
    return { method: 'weights', text: `imbalance ${ratio.toFixed(1)}:1 — train with class weights`, args: ['--label', column, '--weights'] };
  }
  return {
    method: 'oversample',
    text: `imbalance ${ratio.toFixed(1)}:1 — oversample the minority classes to 1:5 of the largest (or use class weights)`,
    args: ['--label', column, '--oversample', '0.2'],
  };
}

/**
 * Corrects a score from a model trained on resampled data back to the true class rate.
 * With class c kept at sampling rate r_c, the odds of positive vs negative grew by r_pos / r_neg;
 * dividing them back out gives the calibrated probability.
 * @example calibrate(0.5, { '1': 4, '0': 1 }, '1') // 0.2
 */
export function calibrate(score: number, rates: Record<string, number>, positive: string): number {
  const rPos = rates[positive];
  const negatives = Object.entries(rates).filter(([k]) => k !== positive);
  if (rPos === undefined || negatives.length !== 1) throw new InputError(`calibrate needs the sampling rates of class ${JSON.stringify(positive)} and exactly one other class, got ${JSON.stringify(rates)}`);
  const rNeg = negatives[0]![1];
  const odds = (score / (1 - score)) * (rNeg / rPos);
  return odds / (1 + odds);
}
